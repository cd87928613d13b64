"""A real crash for resume tests: run a command and kill -9 its whole process group mid-work."""

import os
import signal
import subprocess
import time
from pathlib import Path


def kill_9_after(cmd: list[str], path: Path, lines: int, timeout: float = 240) -> None:
    """Start ``cmd`` in its own session, wait until ``path`` holds ``lines`` complete lines, then
    SIGKILL the session (the command and every process it started: pool workers, Ray)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and path.read_text().count("\n") >= lines:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.stdout.read().decode()  # still working when killed
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

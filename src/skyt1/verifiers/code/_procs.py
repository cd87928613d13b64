"""Process plumbing for :mod:`.sandbox`: slot locks, memfd files, capped I/O, one session's process, uid hunts."""

from __future__ import annotations

import fcntl
import os
import selectors
import signal
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["hold_slot", "memfd", "pump", "execute", "kill_uid"]


def hold_slot(slot: int, max_slots: int) -> tuple[int, int]:
    """Hold a slot for this session: ``slot`` if free, else any free one, else wait for ``slot``."""
    def open_lock(s: int) -> int:
        path = Path(tempfile.gettempdir()) / f"skyt1-sandbox-{os.geteuid()}-slot{s}.lock"
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)

    for s in [slot] + [x for x in range(max_slots) if x != slot]:
        fd = open_lock(s)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd, s
        except BlockingIOError:
            os.close(fd)
    fd = open_lock(slot)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd, slot


def memfd(data: bytes) -> int:
    fd = os.memfd_create("skyt1-file", 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def pump(proc: subprocess.Popen, stdin: bytes | None, deadline: float, cap: int):
    """Feed stdin, collect capped stdout/stderr until EOF, the deadline or the cap."""
    outs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    timed_out = truncated = False
    sel = selectors.DefaultSelector()
    for fd in outs:
        sel.register(fd, selectors.EVENT_READ)
    view, pos = memoryview(stdin or b""), 0
    if stdin:
        os.set_blocking(proc.stdin.fileno(), False)
        sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    while sel.get_map() and not (timed_out or truncated):
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        for key, _ in sel.select(left):
            fd = key.fd
            if fd in outs:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    sel.unregister(fd)
                elif len(outs[fd]) + len(chunk) > cap:
                    outs[fd] += chunk[: cap - len(outs[fd])]
                    truncated = True
                else:
                    outs[fd] += chunk
                continue
            try:
                pos += os.write(fd, view[pos:pos + (1 << 16)])
            except (BrokenPipeError, BlockingIOError) as exc:
                pos = len(view) if isinstance(exc, BrokenPipeError) else pos
            if pos >= len(view):
                sel.unregister(fd)
                proc.stdin.close()
    sel.close()
    return bytes(outs[proc.stdout.fileno()]), bytes(outs[proc.stderr.fileno()]), timed_out, truncated


def execute(full: list[str], env: dict[str, str], cwd: str, fds: list[int], spawn: dict, stdin: bytes | None,
            timeout: float, max_output: int, unsafe: bool) -> tuple[int, bytes, bytes, bool, bool, float]:
    """Start ``full`` in a new session, closing (and emptying) ``fds`` once it holds them; feed
    ``stdin``, collect the output until ``timeout``, then kill the process group if it is left (always when
    ``unsafe``). Returns ``(returncode, stdout, stderr, timed_out, truncated, seconds)``."""
    start = time.monotonic()
    proc = subprocess.Popen(full, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=cwd, pass_fds=fds,
                            start_new_session=True, **spawn)
    for fd in fds:
        os.close(fd)
    fds.clear()
    try:
        out, err, timed_out, truncated = pump(proc, stdin, start + timeout, max_output)
    finally:
        if unsafe or proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    return proc.returncode, out, err, timed_out, truncated, time.monotonic() - start


def kill_uid(uid: int | None, deadline_s: float = 3.0) -> None:
    """SIGKILL every process whose real uid is ``uid`` until none is left (slot uids only)."""
    if uid is None:
        return
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        found = False
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/status", "rb") as f:
                    status = f.read()
            except OSError:
                continue
            line = status[status.find(b"\nUid:"):].split(b"\n", 2)[1]
            if int(line.split()[1]) == uid and b"\nState:\tZ" not in status:  # zombies: only a pid
                found = True
                try:
                    os.kill(int(name), signal.SIGKILL)
                except OSError:
                    pass
        if not found:
            return
        time.sleep(0.01)

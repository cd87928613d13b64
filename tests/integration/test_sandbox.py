"""One adversarial test per sandbox property (skyt1.verifiers.code.sandbox's docstring).

Each test runs a hostile program in a real bubblewrap session and fails if the property
it names breaks. Skipped only where bwrap is not installed at all: CI installs it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from skyt1.verifiers.code import judge_code, run_in_sandbox
from skyt1.verifiers.code import sandbox as sb

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed"),
]


def run(code: str, **kw) -> sb.RunResult:
    return run_in_sandbox({"prog.py": textwrap.dedent(code)}, ["python", "prog.py"], **kw)


def slot_processes() -> list[int]:
    """Live host pids whose real uid is a sandbox slot uid (empty when nothing escaped)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                status = Path(f"/proc/{name}/status").read_text()
                uid = int(status.split("\nUid:")[1].split()[0])
            except (OSError, IndexError):
                continue
            if sb.SLOT_BASE_UID <= uid < sb.SLOT_BASE_UID + sb.MAX_SLOTS and "\nState:\tZ" not in status:
                found.append(int(name))
    return found


def py(code: str) -> str:
    return f"```python\n{textwrap.dedent(code)}\n```"


def test_no_network_even_to_host_loopback():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        res = run(f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
                print("CONNECTED")
            except OSError as exc:
                print("blocked", exc)
            """)
        assert res.returncode == 0, res.stderr
        assert b"blocked" in res.stdout and b"CONNECTED" not in res.stdout
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()


def test_host_filesystem_invisible_and_system_read_only(tmp_path):
    marker = f"skyt1-escape-{secrets.token_hex(6)}"
    host_secret = Path("/tmp") / f"{marker}-secret"
    host_secret.write_text("host secret")
    try:
        res = run(f"""
            import os
            for path in ("/tmp/{marker}", "/usr/{marker}", "/{marker}", "/usr/bin/python3"):
                try:
                    open(path, "a").write("x")
                    print("WROTE", path)
                except OSError as exc:
                    print("denied", path, exc.errno)
            print("SEES_HOST_TMP" if os.path.exists("{host_secret}") else "no host tmp")
            print("SEES_REPO" if os.path.exists("{Path.cwd()}") else "no repo")
            """)
        out = res.stdout.decode()
        assert "WROTE /tmp/" in out  # the private tmpfs work dir is writable ...
        assert not (Path("/tmp") / marker).exists()  # ... and is not the host's /tmp
        for path in (f"/usr/{marker}", f"/{marker}", "/usr/bin/python3"):
            assert f"denied {path}" in out
        assert not Path("/usr", marker).exists()
        assert "no host tmp" in out and "no repo" in out
    finally:
        host_secret.unlink()


def test_fork_bomb_is_contained_and_cleaned_up():
    counted = run("""
        import os, time
        n = 0
        while n < 2000:
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
            except OSError:
                break
            n += 1
        print(n)
        """, max_procs=32, timeout=20)
    assert int(counted.stdout) < 32  # RLIMIT_NPROC binds (as root it would not)
    bomb = run("""
        import os
        while True:
            try:
                os.fork()
            except OSError:
                pass
        """, timeout=2)
    assert bomb.timed_out
    deadline = time.monotonic() + 5
    while slot_processes() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert slot_processes() == []


def test_daemonized_grandchildren_are_killed():
    marker = f"{secrets.randbelow(10**6)}.{secrets.randbelow(1000):03d}"
    res = run(f"""
        import os, subprocess
        subprocess.Popen(["sleep", "{marker}"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "{marker}"])
            os._exit(0)
        print("parent exits")
        """)
    assert res.returncode == 0 and not res.timed_out, res  # they hold our stdout pipe: must die
    time.sleep(0.2)
    survivors = [p for p in os.listdir("/proc") if p.isdigit() and marker in _cmdline(p)]
    assert survivors == []
    assert slot_processes() == []


def _cmdline(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_memory_limit_gives_memory_verdict():
    v = judge_code(py("x = bytearray(3 << 30)\nprint(1)"), {"inputs": [""], "outputs": ["1"]},
                   memory_mb=512)
    assert v["reason"] == "memory" and not v["correct"]


def test_time_limit_gives_timeout_verdict():
    start = time.monotonic()
    v = judge_code(py("while True:\n    pass"), {"inputs": [""], "outputs": ["1"]}, timeout=1)
    assert v["reason"] == "timeout" and not v["correct"]
    assert time.monotonic() - start < 10


def test_output_flood_is_capped():
    res = run("""
        import sys
        while True:
            sys.stdout.write("x" * 65536)
        """, max_output=1 << 20, timeout=20)
    assert res.output_truncated and len(res.stdout) <= 1 << 20 and not res.timed_out
    v = judge_code(py("while True:\n    print('y' * 10000)"), {"inputs": [""], "outputs": ["y"]})
    assert v["reason"] == "output_limit"


@pytest.mark.parametrize("where", ["/tmp", "/dev/shm", "/dev"])
def test_disk_fill_is_capped(where):
    res = run(f"""
        total = 0
        try:
            for i in range(1000):
                with open(f"{where}/fill{{i}}", "wb") as f:
                    for _ in range(4):
                        f.write(b"z" * (1 << 20))
                        f.flush()
                        total += 1 << 20
        except OSError as exc:
            print("stopped", exc.errno)
        print(total)
        """, disk_mb=8)
    lines = res.stdout.decode().split()
    assert lines[0] == "stopped" and int(lines[-1]) <= 8 << 20, res


def test_no_host_environment_or_home(monkeypatch):
    secret = secrets.token_hex(12)
    monkeypatch.setenv("SKYT1_SECRET_TOKEN", secret)
    home_file = Path.home() / f".skyt1-home-{secret[:8]}"
    home_file.write_text(secret)
    try:
        res = run(f"""
            import os
            print(dict(os.environ))
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        print(open(f"/proc/{{pid}}/environ", "rb").read())
                    except OSError:
                        pass
            print("HOME_VISIBLE" if os.path.exists({str(home_file)!r}) else "no home")
            print("HOME_DIR" if os.path.exists({str(Path.home())!r}) else "no home dir")
            """)
        assert res.returncode == 0, res.stderr
        assert secret.encode() not in res.stdout
        assert b"no home" in res.stdout
        if not sb.sandbox_python().startswith(str(Path.home()) + "/"):  # else only its prefix is
            assert b"no home dir" in res.stdout
    finally:
        home_file.unlink()


def test_cannot_signal_host_processes():
    victim = subprocess.Popen(["sleep", "60"])
    try:
        res = run(f"""
            import os, signal
            for sig in (signal.SIGKILL, signal.SIGTERM):
                try:
                    os.kill({victim.pid}, sig)
                    print("SENT")
                except OSError as exc:
                    print("refused", exc.errno)
            """)
        assert b"SENT" not in res.stdout
        time.sleep(0.1)
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_slots_run_as_distinct_unprivileged_uids():
    if os.geteuid() != 0:
        pytest.skip("slot uids are used only when the grader is root")
    uids = {int(run("import os; print(os.getuid())", slot=s).stdout) for s in (0, 1)}
    assert uids == {sb.SLOT_BASE_UID, sb.SLOT_BASE_UID + 1}


def test_refuses_without_bwrap_unless_unsafe(monkeypatch):
    monkeypatch.setattr(sb, "_bwrap_status", lambda: "bwrap is not installed")
    with pytest.raises(sb.SandboxUnavailable, match="--unsafe-code") as err:
        judge_code(py("print(1)"), {"inputs": [""], "outputs": ["1"]})
    assert "apt-get install bubblewrap" in str(err.value)
    v = judge_code(py("print(1)"), {"inputs": [""], "outputs": ["1"]}, unsafe=True)
    assert v["correct"], v


# --- the grader-side exploits: expected outputs are not there to read or to fool ---------

PEEK = """
import gc, sys
found = set()
frame = sys._getframe()
while frame is not None:
    found.update(v for v in frame.f_locals.values() if isinstance(v, str))
    frame = frame.f_back
for obj in gc.get_objects():
    if isinstance(obj, dict):
        found.update(v for v in obj.values() if isinstance(v, str))
    elif isinstance(obj, (list, tuple)):
        found.update(v for v in obj if isinstance(v, str))
hits = sorted(s.strip() for s in found if s.startswith("SECRET-") and len(s.strip()) > 10)
print(hits[0] if hits else "nothing found")
"""


def test_frame_and_gc_peeking_cannot_find_expected_output():
    secret = f"SECRET-{secrets.token_hex(8)}"
    v = judge_code(py(PEEK), {"inputs": ["hello\n"], "outputs": [secret]})
    assert v["reason"] == "wrong_answer" and secret not in v["detail"].split("got")[-1]
    # the peek itself works: a secret that *is* in the sandbox (the input) is found
    planted = judge_code(py(PEEK), {"inputs": [secret + "\n"], "outputs": [secret]})
    assert planted["correct"], planted
    call = judge_code(py(PEEK.replace("print(hits[0] if hits else 'nothing found')", "")
                         + "\ndef f(x):\n    return hits[0] if hits else None\n"),
                      {"fn_name": "f", "inputs": [[1]], "outputs": [secret]})
    assert call["reason"] == "wrong_answer"


ALWAYS_EQUAL = """
class Anything(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = int.__hash__
class Whatever:
    def __eq__(self, other): return True
    def __bool__(self): return True
"""


@pytest.mark.parametrize("ret", ["Anything(0)", "Whatever()", "[Whatever()]"])
def test_always_equal_objects_do_not_pass(ret):
    code = ALWAYS_EQUAL + f"def add(a, b):\n    return {ret}\n"
    call = judge_code(py(code), {"fn_name": "add", "inputs": [[1, 2]], "outputs": [3]})
    mbpp = judge_code(py(code), {"asserts": ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]})
    humaneval = judge_code(py(code), {"check": "def check(candidate):\n    assert candidate(1, 2) == 3\n",
                                      "entry_point": "add"})
    for v in (call, mbpp, humaneval):
        assert not v["correct"], v


@pytest.mark.parametrize("exit_call", ["import sys; sys.exit(0)", "import os; os._exit(0)",
                                       "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
def test_early_exit_does_not_pass_assert_tests(exit_call):
    code = f"def add(a, b):\n    return 0\n{exit_call}\n"
    v = judge_code(py(code), {"asserts": ["assert add(1, 2) == 3"]})
    assert not v["correct"], v
    v = judge_code(py(code), {"check": "def check(candidate):\n    assert candidate(1, 2) == 3\n",
                              "entry_point": "add"})
    assert not v["correct"], v


def test_sessions_do_not_leak_processes_or_fds():
    before = len(os.listdir(f"/proc/{os.getpid()}/fd"))
    for _ in range(3):
        judge_code(py("print(input())"), {"inputs": ["a\n", "b\n"], "outputs": ["a", "b"]})
    assert len(os.listdir(f"/proc/{os.getpid()}/fd")) == before
    assert slot_processes() == []
    assert sys.modules.get("skyt1.verifiers.code.harness") is None  # never imported here
    assert signal.getsignal(signal.SIGCHLD) in (signal.SIG_DFL, None)


def test_tolerance_comes_from_the_problem():
    prog, tests = py("print(0.5000001)"), {"inputs": [""], "outputs": ["0.5"]}
    assert judge_code(prog, tests)["correct"]  # the default 1e-6
    strict = "Your answer is accepted if its absolute or relative error does not exceed $10^{-9}$."
    assert judge_code(prog, tests, statement=strict)["reason"] == "wrong_answer"
    assert judge_code(prog, dict(tests, tolerance=1e-9))["reason"] == "wrong_answer"
    call = {"fn_name": "f", "inputs": [[]], "outputs": [0.5], "tolerance": 1e-9}
    assert judge_code(py("def f():\n    return 0.5000001"), call)["reason"] == "wrong_answer"


def test_none_stdin_is_empty_input():
    v = judge_code(py("import sys\nprint(len(sys.stdin.read()))"), {"inputs": [None], "outputs": ["0"]})
    assert v["correct"], v


SYSCALLS = """
import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    r = libc.syscall(*args)
    print(name, errno.errorcode.get(ctypes.get_errno(), "?") if r < 0 else "ok", flush=True)
call("unshare", 272, 0)
call("ptrace", 101, 0, 0, 0, 0)
call("keyctl", 250, 0, -3, 0)
call("clone_newuts", 56, 0x04000000 | 17, 0, 0, 0, 0)
"""


@pytest.mark.skipif(sb.seccomp_program() is None, reason="no seccomp table for this architecture")
def test_seccomp_denies_dangerous_syscalls():
    # unshare(0), PTRACE_TRACEME and keyctl all succeed in a bwrap session without the filter
    res = run(SYSCALLS)
    lines = dict(line.split() for line in res.stdout.decode().splitlines())
    assert lines == {"unshare": "EPERM", "ptrace": "EPERM", "keyctl": "EPERM", "clone_newuts": "EPERM"}, res


def test_seccomp_leaves_threads_fork_and_subprocess_working():
    res = run("""
        import os, subprocess, threading
        t = threading.Thread(target=print, args=("thread",)); t.start(); t.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        print("fork", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
        print(subprocess.run(["/bin/echo", "child"], capture_output=True, text=True).stdout.strip())
        """)
    assert res.stdout.decode().split() == ["thread", "fork", "7", "child"], res


@pytest.mark.skipif(not sb.package_mounts(("numpy",)), reason="numpy is not installed for the grader")
def test_numpy_is_importable_and_read_only():
    prog = py("import numpy as np\nprint(int(np.arange(int(input())).sum()))")
    v = judge_code(prog, {"inputs": ["5"], "outputs": ["10"]})
    assert v["correct"], v
    prog = py("""
        import numpy, os
        try:
            open(os.path.join(os.path.dirname(numpy.__file__), "planted.py"), "w")
            print("WROTE")
        except OSError as exc:
            print("read-only", exc.errno == 30)
        """)
    assert judge_code(prog, {"inputs": [""], "outputs": ["read-only True"]})["correct"]


HOG = """
import os, time
kids = []
for i in range(8):
    pid = os.fork()
    if pid == 0:
        block = b"x" * (200 << 20)  # touched: resident, not just reserved
        time.sleep(1.5)
        os._exit(0)
    kids.append(pid)
print("survivors", sum(os.waitstatus_to_exitcode(os.waitpid(k, 0)[1]) == 0 for k in kids), flush=True)
"""


@pytest.mark.skipif(sb.cgroup_root() is None, reason="no writable cgroup v2 with memory and pids controllers here")
def test_cgroup_bounds_the_memory_of_all_processes_together():
    # 8 x 200 MiB: each child is under its own 1280 MiB address-space rlimit, the session is not
    res = run(HOG, memory_mb=256, timeout=30)
    survivors = int(res.stdout.split()[-1]) if res.stdout.startswith(b"survivors") else 0
    assert survivors < 8 and res.memory_exceeded, res


@pytest.mark.skipif(sb.cgroup_root() is None, reason="no writable cgroup v2 with memory and pids controllers here")
def test_cgroup_pids_limit_holds_for_a_fork_storm():
    cg = sb.Cgroup(512 << 20, 8)
    try:
        code = ("import os, time\nn = 0\nfor i in range(40):\n    try:\n        pid = os.fork()\n"
                "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(2)\n        os._exit(0)\n"
                "    n += 1\nprint(n)")
        out = subprocess.run(cg.wrap([sb.sandbox_python(), "-c", code], 65534), capture_output=True, timeout=60)
        assert int(out.stdout) < 8, out
    finally:
        cg.close()


CODE_CASES = [json.loads(line) for line in (Path(__file__).resolve().parents[1] / "cases" / "code_cases.jsonl")
              .read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("case", [pytest.param(c, id=c["id"]) for c in CODE_CASES])
def test_code_cases(case):
    from skyt1.verifiers.code.modes import stated_tolerance

    if case["kind"] == "tolerance":
        assert stated_tolerance(case["statement"]) == case["expected"], case["why"]
    else:
        v = judge_code(py(case["code"]), case["tests"], statement=case.get("statement"))
        assert v["reason"] == case["expected_reason"], (case["why"], v)

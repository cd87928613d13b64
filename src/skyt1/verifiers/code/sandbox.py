"""Run untrusted programs under bubblewrap, with hard limits.

One call of :func:`run_in_sandbox` is one *sandbox session*: a fresh ``bwrap`` with

- new **user, pid, net, ipc, uts and cgroup namespaces** (``--unshare-all``), nested user
  namespaces disabled, a new session (no terminal injection); the program is pid 1 of its
  pid namespace (``--as-pid-1``, so bwrap leaves no orphan behind), and when it exits or
  is killed the kernel SIGKILLs every other process in the namespace - daemonized
  grandchildren included;
- a **read-only system**: ``/usr`` (and the ``/bin``, ``/lib*`` links), the interpreter's
  own prefix when it lives elsewhere, a fresh ``/proc`` (showing only the sandbox's
  processes) and a minimal ``/dev``; nothing else of the host, no ``/etc``, no ``/home``,
  no ``/root``, no host ``/tmp``;
- a **private tmpfs work dir** ``/tmp`` (size ``disk_mb``), which is also the cwd and
  ``$HOME``; the given ``files`` are placed in it read-only; ``/dev/shm`` is a second
  tmpfs of ``disk_mb`` (POSIX semaphores, multiprocessing), the rest of ``/dev`` is
  read-only;
- a **cleared environment** (only ``PATH``, ``HOME``, ``LANG``, ``PYTHONHASHSEED=0``);
- **rlimits** applied inside the sandbox by ``prlimit`` before the program starts: CPU
  seconds, address space (``memory_mb`` + 1 GiB for the harness), processes/threads
  (``max_procs``), file size (``disk_mb``), open files, no core dumps;
- a **wall-clock kill** of the whole session (``timeout``): bwrap is its own process group,
  killed with SIGKILL (which takes the namespace down); after any abnormal end, every
  process left under the session's uid is also hunted down by /proc scan;
- stdout/stderr read by the parent with a **cap** (``max_output`` bytes each): past it the
  session is killed and ``output_truncated`` is set, so a flood never grows the parent.

When the grader runs as root, every session runs as an **unprivileged uid per worker
slot** (``SLOT_BASE_UID + slot``; no passwd entry needed), because the kernel never
applies RLIMIT_NPROC to host root. A per-slot lock file (flock) keeps two sessions from
ever sharing a slot, across threads and processes: a session takes the slot it is given
when free, else any free one of ``MAX_SLOTS``, else waits (the hunt for leftover
processes is per uid, so it can never hit another session). Run as a normal user the
session keeps that user's uid; the process limit then counts inside the new user
namespace (Linux >= 5.14 counts per namespace; older kernels count all of the user's
processes).

A **seccomp filter** (:mod:`.confine`, x86_64) denies ptrace, the mount API, new namespaces,
the keyring, bpf, perf_event_open, userfaultfd, io_uring, kernel modules and the like with
EPERM; on another architecture there is no filter, and every syscall an unprivileged user in a
user namespace may make is allowed. **Packages**: the allowed ones (numpy by default,
``$SKYT1_SANDBOX_PACKAGES``) are bound read-only under ``/skyt1-packages`` when they import in
the sandbox's interpreter; ``$SKYT1_SANDBOX_PYTHON`` picks the interpreter.

**Cgroup v2** (:class:`.confine.Cgroup`), where writable: the session's processes together get
``memory.max`` (``memory_mb`` + 512 MiB + both tmpfs) and ``pids.max`` (``max_procs`` + 16).

Not isolated: the kernel's allowed syscalls, CPU caches and timing side channels,
``/proc/cpuinfo``-style host facts, the files of ``/usr``, the interpreter prefix and the allowed
packages (readable, not writable). Without a cgroup (v1 hosts, not root, ``SKYT1_SANDBOX_CGROUP=0``)
memory and CPU seconds are limited *per process*: a program that forks ``max_procs`` children can
hold up to ``max_procs`` x ``memory_mb`` of host memory, plus 2 x ``disk_mb`` of tmpfs, until the
wall clock ends the session. The CPU share is never limited.

``unsafe=True`` skips bubblewrap entirely: the program runs as a plain subprocess in a
temporary directory with a cleared environment, the same rlimits and the wall-clock
group kill (as the slot uid when root) - no namespaces, full network and filesystem
access. It exists only for machines without bubblewrap and must be asked for explicitly.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._procs import execute, hold_slot, kill_uid, memfd
from .confine import PACKAGES_DIR, Cgroup, cgroup_root, package_mounts, seccomp_program, usable_packages

__all__ = [
    "RunResult", "SandboxUnavailable", "run_in_sandbox", "bwrap_available",
    "sandbox_python", "usable_packages", "WORKDIR", "SLOT_BASE_UID", "MAX_SLOTS",
    "Cgroup", "cgroup_root", "package_mounts", "seccomp_program",  # re-exported from confine.py
]

WORKDIR = "/tmp"
SLOT_BASE_UID = 61000
MAX_SLOTS = 64
_PROBE_SLOT = -1  # probes run as SLOT_BASE_UID - 1, never hunted
_HINT = ("install bubblewrap (`apt-get install bubblewrap`) and allow unprivileged user "
         "namespaces, or opt in to running untrusted code without a sandbox with "
         "--unsafe-code (unsafe=True)")


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here and unsandboxed execution was not asked for."""


@dataclass
class RunResult:
    """What one session did. ``returncode`` is negative for a signal (as subprocess)."""

    returncode: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    memory_exceeded: bool = False  # heuristic: MemoryError reported on stderr
    output_truncated: bool = False
    seconds: float = 0.0


def _uid(slot: int) -> int | None:
    """The uid a session of ``slot`` runs as, or None to keep ours (not root)."""
    return SLOT_BASE_UID + slot if os.geteuid() == 0 else None


def _spawn_kwargs(uid: int | None) -> dict:
    return {} if uid is None else {"user": uid, "group": uid, "extra_groups": []}


def _bwrap_args(mounts: Sequence[str] = (), shm_mb: int = 16) -> list[str]:
    args = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--unshare-user", "--disable-userns",
            "--assert-userns-disabled", "--die-with-parent", "--new-session", "--as-pid-1",
            "--hostname", "sandbox", "--clearenv", "--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/" + top)
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), str(host)]
        elif host.is_dir():
            args += ["--ro-bind", str(host), str(host)]
    for path in mounts:
        args += ["--ro-bind", path, path]
    # bwrap's /dev is an unbounded tmpfs: make it read-only, with a bounded /dev/shm in it
    return args + ["--proc", "/proc", "--dev", "/dev", "--size", str(shm_mb << 20), "--tmpfs",
                   "/dev/shm", "--remount-ro", "/dev"]


@functools.cache
def _bwrap_status() -> str:
    """'' when a full bwrap session starts as the slot-0 uid, else why not."""
    if shutil.which("bwrap") is None:
        return "bwrap is not installed"
    if shutil.which("prlimit") is None:
        return "prlimit (util-linux) is not installed"
    argv = _bwrap_args() + ["--tmpfs", "/tmp", "--remount-ro", "/", "--", "/usr/bin/true"]
    try:
        proc = subprocess.run(argv, env={}, capture_output=True, timeout=30, **_spawn_kwargs(_uid(_PROBE_SLOT)))
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap failed to start: {exc}"
    if proc.returncode != 0:
        return f"bwrap failed: {proc.stderr.decode(errors='replace').strip()[:300]}"
    return ""


def bwrap_available() -> bool:
    """True when a real bwrap session can run here (tried once, then cached)."""
    return _bwrap_status() == ""


def _python_prefix(exe: str) -> str:
    """The install prefix to mount for an interpreter outside /usr (``<prefix>/bin/python``)."""
    return str(Path(exe).parent.parent)


@functools.cache
def sandbox_python(unsafe: bool = False) -> str:
    """Absolute path of the interpreter that runs programs (``python`` in argv).

    First of: ``$SKYT1_SANDBOX_PYTHON``, this interpreter's base executable, /usr/bin/python3,
    that starts as the slot uid (pyenv installs under /root are unreadable to it).
    """
    seen = []
    for cand in (os.environ.get("SKYT1_SANDBOX_PYTHON"),
                 getattr(sys, "_base_executable", None) or sys.executable, "/usr/bin/python3"):
        if not cand or not os.path.exists(cand):
            continue
        exe = os.path.realpath(cand)
        if exe in seen:
            continue
        seen.append(exe)
        mounts = [] if exe.startswith("/usr/") else [_python_prefix(exe)]
        probe = [exe, "-I", "-S", "-c", "import marshal, resource, select, _signal, _json"]
        if not unsafe:
            probe = _bwrap_args(mounts) + ["--", *probe]
        try:
            ok = subprocess.run(probe, env={}, capture_output=True, timeout=30,
                                cwd="/", **_spawn_kwargs(_uid(_PROBE_SLOT))).returncode == 0
        except (OSError, subprocess.SubprocessError):
            ok = False
        if ok:
            return exe
    raise SandboxUnavailable(f"no Python interpreter usable inside the sandbox (tried {seen}); "
                             "set SKYT1_SANDBOX_PYTHON to a world-readable python3")


def _limits(timeout: float, memory_mb: int, max_procs: int | None, disk_mb: int,
            max_open_files: int) -> list[str]:
    cpu = int(timeout) + 2
    lim = ["/usr/bin/prlimit" if os.path.exists("/usr/bin/prlimit") else "prlimit",
           f"--cpu={cpu}:{cpu + 1}", f"--as={(memory_mb + 1024) << 20}",
           f"--fsize={disk_mb << 20}", f"--nofile={max_open_files}", "--core=0",
           f"--stack={8 << 20}:{256 << 20}"]
    if max_procs is not None:
        lim.append(f"--nproc={max_procs}")
    return lim + ["--"]


def run_in_sandbox(files: Mapping[str, str | bytes], argv: Sequence[str], *,
                   stdin: bytes | None = None, timeout: float = 10.0, memory_mb: int = 1024,
                   max_procs: int = 64, disk_mb: int = 64, max_open_files: int = 256,
                   max_output: int = 16 << 20, slot: int = 0, unsafe: bool = False,
                   packages: Sequence[tuple[str, str]] = ()) -> RunResult:
    """Run ``argv`` in a fresh sandbox session whose cwd holds ``files`` (read-only).

    ``argv[0] == "python"`` means :func:`sandbox_python` started with ``-I -S`` (isolated,
    stdlib only). ``timeout`` is the session's wall clock (CPU seconds get ``timeout + 2``
    per process). Raises :class:`SandboxUnavailable` when bwrap cannot run and ``unsafe``
    is false; never raises for anything the program does.
    """
    if not unsafe and not bwrap_available():
        raise SandboxUnavailable(f"cannot sandbox untrusted code: {_bwrap_status()}; {_HINT}")
    argv = list(argv)
    mounts: list[str] = []
    if argv and argv[0] == "python":
        exe = sandbox_python(unsafe)
        argv[:1] = [exe, "-I", "-S"]
        mounts = [] if exe.startswith("/usr/") else [_python_prefix(exe)]
    # Unsafe and not root: RLIMIT_NPROC would count every process of the user, so none.
    nproc = None if unsafe and os.geteuid() != 0 else max_procs
    inner = _limits(timeout, memory_mb, nproc, disk_mb, max_open_files) + argv
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": WORKDIR, "LANG": "C.UTF-8",
           "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    lock, slot = hold_slot(slot, MAX_SLOTS)
    uid = _uid(slot)
    fds: list[int] = []
    tmpdir = cg = None
    try:
        if unsafe:
            tmpdir = tempfile.mkdtemp(prefix="skyt1-unsafe-")
            _write_files(tmpdir, files, uid)
            full, cwd, env = inner, tmpdir, {**env, "HOME": tmpdir}
        else:
            full = _bwrap_command(inner, files, env, mounts, disk_mb, packages, fds)
            cwd, env = "/", {}
        spawn = _spawn_kwargs(uid)
        if not unsafe and cgroup_root() is not None:  # all processes together (confine.py)
            cg = Cgroup((memory_mb + 512 + 2 * disk_mb) << 20, max_procs + 16)
            full, spawn = cg.wrap(full, uid), {}
        code, out, err, timed_out, truncated, seconds = execute(full, env, cwd, fds, spawn, stdin, timeout,
                                                                max_output, unsafe)
        if timed_out or truncated or code < 0 or unsafe:
            kill_uid(uid)
        oom = b"MemoryError" in err[-4096:] or (cg is not None and cg.oom_killed())
        return RunResult(code, out, err, timed_out, oom, truncated, seconds)
    finally:
        if cg is not None:
            cg.close()
        for fd in fds:
            os.close(fd)
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        os.close(lock)


def _write_files(tmpdir: str, files: Mapping[str, str | bytes], uid: int | None) -> None:
    """Write ``files`` under ``tmpdir`` (the unsafe mode's cwd), owned by ``uid`` when one is set."""
    for name, data in files.items():
        dest = Path(tmpdir, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data.encode() if isinstance(data, str) else data)
    if uid is not None:
        for p in [Path(tmpdir), *Path(tmpdir).rglob("*")]:
            os.chown(p, uid, uid)


def _bwrap_command(inner: list[str], files: Mapping[str, str | bytes], env: dict[str, str], mounts: list[str],
                   disk_mb: int, packages: Sequence[tuple[str, str]], fds: list[int]) -> list[str]:
    """The bwrap command that runs ``inner`` with ``files`` read-only in a fresh ``WORKDIR`` tmpfs,
    ``packages`` read-only under ``PACKAGES_DIR`` and the seccomp filter. ``fds`` gains the memfds
    it passes (the caller closes them)."""
    full = _bwrap_args(mounts, disk_mb)
    for host, name in packages:  # read-only, under PACKAGES_DIR (see confine.py)
        full += ["--ro-bind", host, f"{PACKAGES_DIR}/{name}"]
    if (program := seccomp_program()) is not None:
        fds.append(memfd(program))
        full += ["--seccomp", str(fds[-1])]
    for key, value in env.items():
        full += ["--setenv", key, value]
    full += ["--size", str(disk_mb << 20), "--tmpfs", WORKDIR]
    for name, data in files.items():
        fd = memfd(data.encode() if isinstance(data, str) else data)
        fds.append(fd)
        full += ["--ro-bind-data", str(fd), f"{WORKDIR}/{name}"]
    return full + ["--chdir", WORKDIR, "--remount-ro", "/", "--", *inner]

"""Defence in depth for :mod:`.sandbox`: a seccomp filter, cgroup v2 limits, read-only packages.

- :func:`seccomp_program`: a classic-BPF seccomp program, assembled here (no libseccomp needed),
  that bwrap installs (``--seccomp FD``) right before it executes the program. It denies with
  ``EPERM``: ``ptrace``, ``process_vm_readv/writev``, ``kcmp``, the mount API (``mount``,
  ``umount2``, ``pivot_root``, ``chroot``, ``open_tree``, ``move_mount``, ``fsopen`` ...), new
  namespaces (``unshare``, ``setns``, and ``clone`` with any ``CLONE_NEW*`` flag), the kernel
  keyring (``keyctl``, ``add_key``, ``request_key``), ``bpf``, ``perf_event_open``,
  ``userfaultfd``, ``io_uring_*``, modules, ``kexec``, ``reboot``, swap, ``acct``, quotas,
  ``syslog``, clock setting, handle-based opens, ``iopl``/``ioperm``; ``clone3`` gets ``ENOSYS``
  (its flags sit in memory a filter cannot read; libc then falls back to ``clone``); a syscall of
  another ABI (x32, i386 via ``int 0x80``) gets ``EPERM``. The deny list follows Docker's and
  systemd's defaults for unprivileged containers. Only x86_64 has a table: on another architecture
  :func:`seccomp_program` returns ``None`` and no filter is installed (stated by
  ``sandbox.confinement()``).
- :class:`Cgroup`: where cgroup v2 is mounted at ``/sys/fs/cgroup`` with the ``memory`` and
  ``pids`` controllers and a writable subtree (the grader is root or owns a delegated subtree), each
  session runs in its own cgroup with ``memory.max`` (all of the session's processes together),
  ``memory.swap.max = 0`` and ``pids.max``; the session enters it before bwrap starts (a root shell
  writes its own pid, then ``setpriv`` drops to the slot uid and executes bwrap), so nothing escapes
  it by forking early. Elsewhere (cgroup v1, read-only cgroupfs, not root) there is no cgroup and
  the per-process rlimits are what holds.
- :func:`package_mounts`: the directories of the allowed packages (default ``numpy``, from
  ``$SKYT1_SANDBOX_PACKAGES``, comma-separated; empty for none) as the grader's interpreter finds
  them, with their bundled ``<name>.libs``, to bind read-only under :data:`PACKAGES_DIR`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import itertools
import os
import platform
import shutil
import struct
import subprocess
import time
from pathlib import Path

__all__ = ["seccomp_program", "Cgroup", "cgroup_root", "package_mounts", "allowed_packages", "usable_packages",
           "PACKAGES_DIR", "DENIED"]

PACKAGES_DIR = "/skyt1-packages"
_AUDIT_ARCH_X86_64 = 0xC000003E
_X32_BIT = 0x40000000
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000
_EPERM, _ENOSYS = 1, 38
_CLONE_NEW = 0x7E020080  # NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
_CLONE, _CLONE3 = 56, 435
# x86_64 numbers (arch/x86/entry/syscalls/syscall_64.tbl)
_DENY_X86_64 = {
    "ptrace": 101, "syslog": 103, "vhangup": 153, "pivot_root": 155, "adjtimex": 159, "chroot": 161,
    "acct": 163, "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168,
    "reboot": 169, "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173, "init_module": 175,
    "delete_module": 176, "quotactl": 179, "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246,
    "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313, "kexec_file_load": 320,
    "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433,
    "mount_setattr": 442,
}
DENIED = tuple(sorted(_DENY_X86_64))


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


@functools.lru_cache(maxsize=1)
def seccomp_program() -> bytes | None:
    """The filter as bytes of ``struct sock_filter``, or None where no table exists (not x86_64)."""
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    prog: list[tuple[int, int, str | None, str | None]] = []
    labels: dict[str, int] = {}

    def emit(code: int, k: int, jt: str | None = None, jf: str | None = None) -> None:
        prog.append((code, k, jt, jf))

    emit(_LD_W_ABS, 4)  # seccomp_data.arch
    emit(_JEQ, _AUDIT_ARCH_X86_64, None, "eperm")
    emit(_LD_W_ABS, 0)  # seccomp_data.nr
    emit(_JGE, _X32_BIT, "eperm")
    emit(_JEQ, _CLONE3, "enosys")
    emit(_JEQ, _CLONE, "clone")
    for nr in sorted(set(_DENY_X86_64.values())):
        emit(_JEQ, nr, "eperm")
    emit(_RET, _RET_ALLOW)
    labels["eperm"] = len(prog)
    emit(_RET, _RET_ERRNO | _EPERM)
    labels["enosys"] = len(prog)
    emit(_RET, _RET_ERRNO | _ENOSYS)
    labels["clone"] = len(prog)
    emit(_LD_W_ABS, 16)  # args[0], low 32 bits (little endian): clone's flags
    emit(_JSET, _CLONE_NEW, "clone_new")
    emit(_RET, _RET_ALLOW)
    labels["clone_new"] = len(prog)
    emit(_RET, _RET_ERRNO | _EPERM)
    out = []
    for i, (code, k, jt, jf) in enumerate(prog):  # classic BPF jumps are forward offsets from the next insn
        off = [labels[t] - i - 1 if t else 0 for t in (jt, jf)]
        assert all(0 <= o < 256 for o in off), off
        out.append(_insn(code, k, *off))
    return b"".join(out)


def allowed_packages() -> tuple[str, ...]:
    """The packages programs may import besides the stdlib: ``$SKYT1_SANDBOX_PACKAGES`` (comma-separated,
    empty for none), default ``numpy`` (AtCoder's judge and LiveCodeBench's grader both provide it)."""
    raw = os.environ.get("SKYT1_SANDBOX_PACKAGES", "numpy")
    return tuple(p.strip() for p in raw.split(",") if p.strip())


@functools.cache
def package_mounts(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``(host dir, name)`` for each found package and its bundled ``<name>.libs``; missing ones are skipped."""
    found = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue
        pkg = Path(list(spec.submodule_search_locations)[0])
        found.append((str(pkg), name))
        for libs in (pkg.parent / f"{name}.libs", pkg.parent / f"{name.replace('_', '-')}.libs"):
            if libs.is_dir():
                found.append((str(libs), libs.name))
                break
    return tuple(found)


@functools.cache
def usable_packages(names: tuple[str, ...], unsafe: bool = False) -> tuple[tuple[str, str], ...]:
    """The mounts of ``names`` (:func:`.confine.package_mounts`) if they import in the sandbox's
    interpreter (same Python version as the grader's), else none; tried once."""
    mounts = package_mounts(names)
    if not mounts:
        return ()
    top = [name for _, name in mounts if not name.endswith(".libs")]
    where = PACKAGES_DIR if not unsafe else str(Path(mounts[0][0]).parent)
    code = f"import sys; sys.path.append({where!r}); " + "; ".join(f"import {n}" for n in top)
    from .sandbox import run_in_sandbox

    res = run_in_sandbox({}, ["python", "-c", code], timeout=60, packages=mounts, unsafe=unsafe)
    return mounts if res.returncode == 0 else ()


_SEQ = itertools.count()


@functools.lru_cache(maxsize=1)
def cgroup_root() -> Path | None:
    """The cgroup v2 directory sessions' cgroups go under, or None where none can be made (see above).
    ``$SKYT1_SANDBOX_CGROUP=0`` turns them off. Tried once: a probe session must start in one."""
    root = Path("/sys/fs/cgroup")
    if os.environ.get("SKYT1_SANDBOX_CGROUP", "1") == "0" or os.geteuid() != 0 or not shutil.which("setpriv"):
        return None
    try:
        if not {"memory", "pids"} <= set((root / "cgroup.controllers").read_text().split()):
            return None
        base = root / "skyt1-sandbox"
        base.mkdir(exist_ok=True)
        if not {"memory", "pids"} <= set((root / "cgroup.subtree_control").read_text().split()):
            (root / "cgroup.subtree_control").write_text("+memory +pids")
        (base / "cgroup.subtree_control").write_text("+memory +pids")
        probe = Cgroup(64 << 20, 8, base)
        try:
            ok = subprocess.run(probe.wrap(["/usr/bin/true"], 65534), timeout=30).returncode == 0
        finally:
            probe.close()
        return base if ok else None
    except (OSError, subprocess.SubprocessError):
        return None


class Cgroup:
    """One session's cgroup: ``memory.max`` (swap 0) and ``pids.max`` over all its processes."""

    def __init__(self, memory_bytes: int, pids: int, base: Path | None = None) -> None:
        self.path = (base or cgroup_root()) / f"s{os.getpid()}-{next(_SEQ)}"
        self.path.mkdir()
        for name, value in (("memory.max", memory_bytes), ("memory.swap.max", 0), ("pids.max", pids)):
            if (self.path / name).exists():
                (self.path / name).write_text(str(value))

    def wrap(self, argv: list[str], uid: int | None) -> list[str]:
        """``argv`` entered into the cgroup by a root shell, then run as ``uid`` (setpriv)."""
        drop = [] if uid is None else [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}",
                                       "--clear-groups"]
        return ["/bin/sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', str(self.path), *drop, *argv]

    def oom_killed(self) -> bool:
        try:
            events = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
        except (OSError, ValueError):
            return False
        return int(events.get("oom_kill", 0)) > 0

    def close(self) -> None:
        """Kill whatever is left in the cgroup and remove it."""
        try:
            if (self.path / "cgroup.kill").exists():
                (self.path / "cgroup.kill").write_text("1")
            else:
                for pid in (self.path / "cgroup.procs").read_text().split():
                    with contextlib.suppress(OSError):
                        os.kill(int(pid), 9)
        except OSError:
            pass
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.02)

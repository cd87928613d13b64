"""skyt1 code-judge harness: runs INSIDE the sandbox (stdlib only, Python >= 3.9).

Never imported by the grader: ``judge.py`` mounts it and runs ``python -I -S harness.py``.
It runs every test of one problem, each in a forked child with its own limits, and
prints one JSON document. It never sees expected outputs (assert suites are code: see
judge.py). Imports are kept to C modules: the harness starts in every session.

stdin (marshal, from the grader)::

  {"mode": "stdio" | "call" | "script", "code": str, "prelude": str,
   "tests": [str] (stdio inputs) | [[arg, ...]] (call) | [str] (script statements),
   "fn_name": str (call), "token": str (script), "timeout": float, "memory_mb": int,
   "output_limit": int (bytes per test), "total_limit": int (bytes of JSON), "sweep": bool,
   "path": [str] (optional: directories of allowed packages, appended to sys.path)}

stdout (JSON): ``{"compile_error": str}`` or ``{"results": [{"status", "seconds", ...}]}`` with
status one of ok, timeout, memory, runtime_error, output_limit; ``stdout`` (stdio),
``value`` (call: tagged JSON of the plain return value), ``channel`` (script: lines
``pass I`` / ``fail I KIND MSG``, then the token), ``stderr`` (tail). Stops at the first
test whose status is not ok.
"""

import builtins
import marshal
import math
import numbers
import os
import resource
import select
import _signal as signal  # not `signal`: that imports enum (~8 ms per session)
import sys
import time
import types

try:  # the C string encoder, without json's re/enum imports (~20 ms a session)
    from _json import encode_basestring_ascii as _qstr
except ImportError:  # pragma: no cover
    from json import dumps as _qstr

MEM_EXIT = 86
_write = os.write  # taken before any program runs: a program that patches os.write cannot fake a report
_SAFE_DUNDER = (types.WrapperDescriptorType, types.MethodDescriptorType, type(None))
_CMP = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__", "__hash__")


class NotPlain(TypeError):
    """A value that cannot be trusted in a comparison (Python-level comparison methods)."""


def plain(x, strict=False):
    """Copy ``x`` into exact built-in types, reading subclasses through the base type's C
    methods. Other objects: returned as-is when no class in their MRO defines comparison
    or truth methods in Python (deque, map, ...), else NotPlain; ``strict`` always raises."""
    t = type(x)
    if x is None or t in (bool, int, float, str, bytes, complex):
        return x
    for base in (list, tuple, set, frozenset):
        if isinstance(x, base):
            return (list if base is list else base)([plain(v, strict) for v in base.__iter__(x)])
    if isinstance(x, dict):
        return {plain(k, strict): plain(v, strict) for k, v in dict.items(x)}
    for base, copy in ((int, int.__int__), (float, float.__float__), (str, str.__str__),
                       (bytes, lambda b: bytes.__getitem__(b, slice(None))),
                       (complex, lambda c: complex(complex.real.__get__(c), complex.imag.__get__(c))),
                       (numbers.Integral, lambda v: plain(int(v), True)),
                       (numbers.Real, lambda v: plain(float(v), True))):
        if isinstance(x, base):
            return copy(x)
    if not strict and not any(n in k.__dict__ and not isinstance(k.__dict__[n], _SAFE_DUNDER)
                              for k in t.__mro__[:-1] for n in _CMP):
        return x
    raise NotPlain(f"value of type {t.__name__} is not plain data")


def encode(x):
    """Tagged JSON for a plain value (tuples, sets, dicts with any keys survive)."""
    t = type(x)
    if t is int and x.bit_length() >= 8000:
        return {"$int": hex(x)}
    if t is float and not math.isfinite(x):
        return {"$float": repr(x)}
    if x is None or t in (bool, str, int, float):
        return x
    if t is list:
        return [encode(v) for v in x]
    if t in (tuple, set, frozenset):
        return {"$" + t.__name__: [encode(v) for v in x]}
    if t is dict:
        return {"$dict": [[encode(k), encode(v)] for k, v in x.items()]}
    if t is bytes:
        return {"$bytes": x.hex()}
    return {"$complex": [encode(x.real), encode(x.imag)]} if t is complex else {"$opaque": t.__name__}


def dumps(o):
    """JSON text of None/bool/int/float/str/list/dict-with-str-keys (as json.dumps)."""
    t = type(o)
    if t is str:
        return _qstr(o)
    if t is list:
        return "[" + ",".join([dumps(v) for v in o]) + "]"
    if t is dict:
        return "{" + ",".join([_qstr(str(k)) + ":" + dumps(v) for k, v in o.items()]) + "}"
    if t is float and not math.isfinite(o):
        return "NaN" if o != o else "Infinity" if o > 0 else "-Infinity"
    if o is None or t is bool:
        return "null" if o is None else "true" if o else "false"
    if t in (int, float):
        return repr(o)
    raise TypeError(f"cannot serialize {t.__name__}")


def _limits(cfg):
    mem = cfg["memory_mb"] << 20
    cpu = max(1, math.ceil(cfg["timeout"]))
    fsize = cfg["output_limit"] + 1
    stack = resource.getrlimit(resource.RLIMIT_STACK)[1]  # deep recursion: soft up to hard
    for res, soft, hard in ((resource.RLIMIT_AS, mem, mem), (resource.RLIMIT_CPU, cpu, cpu + 1),
                            (resource.RLIMIT_FSIZE, fsize, fsize), (resource.RLIMIT_STACK, stack, stack)):
        old_hard = resource.getrlimit(res)[1]
        if old_hard != resource.RLIM_INFINITY:
            soft, hard = min(soft, old_hard), min(hard, old_hard)
        resource.setrlimit(res, (soft, hard))


def _namespace(prelude):
    g = {"__name__": "__main__", "__builtins__": builtins}
    exec(prelude or "", g)
    for name in [n for n in g if not n.startswith("__") and hasattr(builtins, n)]:
        del g[name]  # star imports must not shadow builtins (math.pow vs pow)
    return g


class Stdio:
    """stdin/stdout tests: the program's own top level is the run; stdout is captured."""

    key, captures = "stdout", True

    def after(self, cfg, g, test, stmts, chan_fd):
        pass

    def exited(self, code, chan_fd):
        pass


class Call(Stdio):
    """Call-based tests: call ``Solution().f`` or ``f`` and send the plain, tagged return value."""

    key, captures = "value", False  # print() goes to /dev/null: only the return value counts

    def after(self, cfg, g, test, stmts, chan_fd):
        fn_name = cfg["fn_name"]
        sol = g.get("Solution")
        fn = getattr(sol(), fn_name) if isinstance(sol, type) and hasattr(sol, fn_name) else g[fn_name]
        value = fn(*(test if isinstance(test, list) else [test]))
        try:
            value = encode(plain(value, strict=True))
        except NotPlain:
            value = {"$opaque": type(value).__name__}
        _write(chan_fd, dumps(value).encode())


class Script(Call):
    """Assert-style tests: run the statements in a copy of the namespace, report each, then the token."""

    key = "channel"

    def after(self, cfg, g, test, stmts, chan_fd):
        t = dict(g)
        t["__skyt1_plain"] = plain
        for i, stmt in enumerate(stmts):
            try:
                exec(stmt, t)
            except MemoryError:
                raise
            except (Exception, SystemExit) as exc:
                kind = "assert" if isinstance(exc, (AssertionError, NotPlain)) else "error"
                _write(chan_fd, f"fail {i} {kind} {type(exc).__name__}: {str(exc)[:200]!r}\n".encode())
                return
            _write(chan_fd, f"pass {i}\n".encode())
        _write(chan_fd, (cfg["token"] + "\n").encode())

    def exited(self, code, chan_fd):
        _write(chan_fd, f"fail -1 error SystemExit({code!r})\n".encode())


RUNNERS = {"stdio": Stdio(), "call": Call(), "script": Script()}


def _child(cfg, code_obj, test, fds, stmts, base):
    """Body of one forked test process; never returns."""
    status = 1
    try:
        os.setpgid(0, 0)
        for fd, target in zip(fds, (0, 1, 2)):
            os.dup2(fd, target)
        chan_fd = fds[3]
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the cap fail, never kill
        _limits(cfg)
        for fd, name in enumerate(("stdin", "stdout", "stderr")):
            stream = open(fd, "w" if fd else "r", encoding="utf-8", errors="replace", closefd=False)
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)
        runner = RUNNERS[cfg["mode"]]
        main = types.ModuleType("__main__")  # a real __main__: pickle/multiprocessing find names
        main.__dict__.update(base)
        sys.modules["__main__"] = main
        g = main.__dict__
        try:
            exec(code_obj, g)
            runner.after(cfg, g, test, stmts, chan_fd)
            status = 0
        except SystemExit as exc:  # as the interpreter: None is 0, an int is itself, else print, 1
            code = exc.code
            status = 0 if code is None else code if isinstance(code, int) else print(code, file=sys.stderr) or 1
            runner.exited(code, chan_fd)
        except MemoryError:
            status = MEM_EXIT
        except BaseException:
            import traceback
            traceback.print_exc()
            status = 1
        if "threading" in sys.modules:  # as interpreter exit: join non-daemon threads, atexit
            sys.modules["threading"]._shutdown()
        __import__("atexit")._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except MemoryError:
        status = MEM_EXIT
    except BaseException:
        status = status or 1
    finally:
        os._exit((status & 0xFF or 1) if status else 0)


def _memfd(data=b""):
    fd = os.memfd_create("skyt1", 0)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _read(fd, limit):
    size = os.fstat(fd).st_size
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, min(size, limit)) if size else b"", size


def _sweep():
    """As pid 1 of the sandbox: kill every other process (daemonized leftovers), reap all."""
    for name in os.listdir("/proc"):
        if name.isdigit() and name != "1":
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def run_test(cfg, code_obj, test, stmts, base):
    runner = RUNNERS[cfg["mode"]]
    stdio = runner.captures
    fds = [_memfd(test.encode() if stdio else b""), _memfd() if stdio else os.open(os.devnull, os.O_WRONLY),
           _memfd(), _memfd()]
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(cfg, code_obj, test, fds, stmts, base)
    timed_out = False
    try:
        pfd = os.pidfd_open(pid)
        timed_out = not select.select([pfd], [], [], cfg["timeout"])[0]
        os.close(pfd)
    except (AttributeError, OSError):  # kernel < 5.3: poll, without reaping
        while not timed_out and os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
            time.sleep(0.002)
            timed_out = time.monotonic() - start > cfg["timeout"]
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass
    wstatus = os.waitpid(pid, 0)[1]
    seconds = time.monotonic() - start
    if cfg.get("sweep") and os.getpid() == 1:
        _sweep()
    limit = cfg["output_limit"]
    out, out_size = _read(fds[1], limit) if stdio else (b"", 0)
    chan, chan_size = _read(fds[3], limit)
    err, _ = _read(fds[2], 1 << 20)
    for fd in fds:
        os.close(fd)
    code = os.waitstatus_to_exitcode(wstatus)
    status = ("timeout" if timed_out or code == -signal.SIGXCPU else
              "output_limit" if out_size > limit or chan_size > limit else
              "memory" if code == MEM_EXIT else "runtime_error" if code else "ok")
    return {"status": status, "seconds": round(seconds, 4), "exit": code,
            "stderr": err[-2000:].decode("utf-8", "replace"),
            runner.key: (out if stdio else chan).decode("utf-8", "replace")}


def main():
    builtins.exit = builtins.quit = sys.exit  # site's helpers, missing under -S
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)
    cfg = marshal.loads(sys.stdin.buffer.read())  # written by the trusted grader
    sys.path.extend(cfg.get("path") or [])  # the allowed packages' read-only directory (numpy)
    stmts = [compile(s, f"<test {i}>", "exec") for i, s in enumerate(cfg["tests"])] \
        if cfg["mode"] == "script" else None  # test code: an error here is the grader's
    try:
        code_obj = compile(cfg["code"], "<solution>", "exec")
    except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
        sys.stdout.write(dumps({"compile_error": f"{type(exc).__name__}: {exc}"[:2000]}))
        return
    base = _namespace(cfg.get("prelude"))  # imported once, copied into every test by fork
    results, total = [], 0
    for test in ([None] if cfg["mode"] == "script" else cfg["tests"]):
        res = run_test(cfg, code_obj, test, stmts, base)
        total += len(dumps(res))
        if total > cfg["total_limit"]:
            res = {"status": "output_limit", "seconds": res["seconds"], "exit": res["exit"]}
        results.append(res)
        if res["status"] != "ok":
            break
    sys.stdout.write(dumps({"results": results}))


if __name__ == "__main__":
    main()

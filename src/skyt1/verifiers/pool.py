"""Run verifier calls in worker processes with a hard per-call wall-clock limit.

Contract::

    with VerifierPool(workers=2, timeout=5.0) as pool:
        for index, verdict in pool.map(verify_math, [(response, gold), ...]):
            ...

- ``map(fn, items)`` calls ``fn(*item)`` (``fn`` a picklable top-level function returning a verdict
  dict) in worker processes and yields ``(index, verdict)`` as calls finish, in any order;
  ``index`` is the item's position in ``items``, which is read lazily.
- A call still running ``timeout`` seconds after it started yields
  ``{"correct": False, "extracted": None, "reason": "timeout"}``; its worker, with its whole
  process group (anything it spawned), is SIGKILLed and replaced. The parent keeps the deadlines,
  so this holds for C code that never returns to Python: a signal-based timeout such as
  math-verify's SIGALRM cannot stop sympy computing ``9**9**9`` and fails off the main thread.
- An exception in ``fn``, a non-dict result or a dying worker yields ``reason="error"``, with the
  message under the extra key ``"error"``.
- ``workers=0`` runs inline, without a time limit (for debugging).

Not ``concurrent.futures``: it cannot kill one task. Workers are forked from the parent while it
runs one thread (fast, and they inherit its imports: pass ``warmup``, e.g.
``skyt1.verifiers.math.warm_up``, to run it once before forking); from a forkserver otherwise,
as forking a multi-threaded process can deadlock the child (each worker then runs ``warmup``).
Each worker holds at most two calls (one running, one queued), one pickled message each way.
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import pickle
import signal
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import wait

from skyt1.verifiers.verdict import make

__all__ = ["VerifierPool"]

_PIPE_SAFE_BYTES = 64 * 1024  # queueing a message this small never blocks on a busy worker


def _timeout_verdict() -> dict:
    return make(False, None, "timeout")


def _error_verdict(message: str) -> dict:
    return make(False, None, "error", error=message)


def _call(fn, args) -> dict:
    try:
        verdict = fn(*args)
        if not isinstance(verdict, dict):
            raise TypeError(f"verifier returned {type(verdict).__name__}, not a verdict dict")
        return verdict
    except Exception as exc:  # noqa: BLE001 - whatever fn raises is this item's verdict
        return _error_verdict(f"{type(exc).__name__}: {exc}")


def _worker_main(conn, warmup: Callable[[], object] | None, die_with_parent: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.setpgid(0, 0)
    if die_with_parent:  # Linux PR_SET_PDEATHSIG: no hung call outlives a killed parent
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):  # not Linux: the parent still kills on timeout
            pass
    if warmup is not None:
        try:
            warmup()
        except Exception:  # noqa: BLE001, S110 - a cold worker is slower, not wrong
            pass
    conn.send_bytes(b"")  # ready
    while message := conn.recv_bytes():
        fn, index, args = pickle.loads(message)
        try:
            payload = pickle.dumps((index, _call(fn, args)), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable verdict
            payload = pickle.dumps((index, _error_verdict(f"{type(exc).__name__}: {exc}")))
        conn.send_bytes(payload)


class _Worker:
    __slots__ = ("conn", "pending", "process", "ready", "started")

    def __init__(self, process, conn) -> None:
        self.process, self.conn, self.ready = process, conn, False
        self.pending: collections.deque = collections.deque()  # (index, args) sent, unanswered
        self.started = 0.0  # when pending[0] started, on the parent's clock

    def kill(self) -> None:
        try:  # the worker leads its own process group: take its children with it
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            self.process.kill()
        self.process.join(timeout=5)
        self.conn.close()


def _shutdown(workers: list[_Worker]) -> None:
    for w in workers:
        try:
            w.conn.send_bytes(b"")
        except OSError:
            pass
    deadline = time.monotonic() + 1.0
    for w in workers:
        w.process.join(timeout=max(0.0, deadline - time.monotonic()))
        w.kill() if w.process.is_alive() else w.conn.close()
    workers.clear()


class VerifierPool:
    """Worker processes that run verifier calls with a hard per-call timeout (see module doc)."""

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 5.0,
        *,
        warmup: Callable[[], object] | None = None,
        start_method: str | None = None,
    ) -> None:
        if workers < 0 or timeout <= 0:
            raise ValueError("workers must be >= 0 and timeout > 0")
        self.workers, self.timeout = workers, float(timeout)
        self._warmup, self._start_method, self._ctx = warmup, start_method, None
        self._pool: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _shutdown, self._pool)
        self._closed = self._busy = False
        self._failed_starts = 0

    def __enter__(self) -> VerifierPool:
        self._start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (idempotent)."""
        self._closed = True
        self._finalizer()

    def _start(self) -> None:
        if self._closed:
            raise RuntimeError("VerifierPool is closed")
        if self._ctx is not None or self.workers == 0:
            return
        method = self._start_method
        if method is None:
            single = threading.active_count() == 1
            method = "fork" if single and "fork" in mp.get_all_start_methods() else "forkserver"
        self._ctx = mp.get_context(method)
        if method == "fork" and self._warmup is not None:
            self._warmup()  # in the parent: every forked worker inherits the warm state
        self._pool.extend(self._spawn() for _ in range(self.workers))

    def _spawn(self) -> _Worker:
        forked = self._ctx.get_start_method() == "fork"
        # the death signal follows the forking *thread*: only ask for it from the main thread
        die_with_parent = not forked or threading.current_thread() is threading.main_thread()
        parent, child = self._ctx.Pipe(duplex=True)
        args = (child, None if forked else self._warmup, die_with_parent)
        process = self._ctx.Process(target=_worker_main, args=args, daemon=True)
        process.start()
        child.close()
        return _Worker(process, parent)

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._pool[self._pool.index(w)] = self._spawn()

    def map(self, fn: Callable[..., dict], items: Iterable[tuple],
            timeout: float | None = None) -> Iterator[tuple[int, dict]]:
        """Yield ``(index, verdict)`` for ``fn(*item)`` of every item, as calls complete; ``timeout``
        replaces the pool's limit per call for this map (warm workers reused for other work)."""
        if self.workers == 0:
            return ((i, _call(fn, args)) for i, args in enumerate(items))
        self._start()
        pickle.dumps(fn)  # fail here, not in a worker, on a lambda or a closure
        return self._map(fn, items, float(timeout or self.timeout))

    def _map(self, fn, items, limit: float) -> Iterator[tuple[int, dict]]:
        if self._busy:
            raise RuntimeError("VerifierPool.map is already running; finish or close it first")
        self._busy = True
        source = enumerate(items)
        retry: collections.deque = collections.deque()  # queued on a killed worker, never started
        done: list[tuple[int, dict]] = []
        exhausted = False
        try:
            while True:
                if self._closed:
                    raise RuntimeError("VerifierPool was closed during map")
                for w in self._pool:
                    while w.ready and len(w.pending) < 2:
                        item = retry.popleft() if retry else None if exhausted else next(source, None)
                        if item is None:
                            exhausted = True
                            break
                        if not self._send(w, fn, item, retry, done):
                            break
                if done:
                    yield from done
                    done.clear()
                    continue
                busy = [w for w in self._pool if w.pending]
                if not busy and exhausted and not retry:
                    return
                first_deadline = min((w.started + limit for w in busy), default=None)
                wait_s = None if first_deadline is None else max(0.0, first_deadline - time.monotonic())
                for conn in wait([w.conn for w in self._pool], timeout=wait_s):
                    self._receive(next(w for w in self._pool if w.conn is conn), retry, done)
                now = time.monotonic()
                for w in list(self._pool):
                    if w.pending and now >= w.started + limit and not w.conn.poll(0):
                        done.append((w.pending.popleft()[0], _timeout_verdict()))
                        retry.extend(w.pending)
                        self._replace(w)
        finally:
            self._busy = False
            for w in list(self._pool):
                if w.pending and not self._closed:  # abandoned mid-map: no stale calls in the next map
                    self._replace(w)

    def _send(self, w: _Worker, fn, item, retry, done) -> bool:
        """Queue ``item`` on ``w``; False (item kept for later) if that could block on a busy worker."""
        index, args = item
        try:
            payload = pickle.dumps((fn, index, args), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - any pickling failure is this item's error
            done.append((index, _error_verdict(f"cannot send item to a worker: {exc}")))
            return True
        if w.pending and len(payload) > _PIPE_SAFE_BYTES:
            retry.appendleft(item)
            return False
        try:
            w.conn.send_bytes(payload)
        except OSError:  # the worker died: wait() reports it, and the item goes elsewhere
            retry.appendleft(item)
            return False
        if not w.pending:
            w.started = time.monotonic()
        w.pending.append(item)
        return True

    def _receive(self, w: _Worker, retry, done) -> None:
        try:
            message = w.conn.recv_bytes()
        except (EOFError, OSError):
            w.process.join(timeout=1)
            code = w.process.exitcode
            if w.pending:
                done.append((w.pending.popleft()[0], _error_verdict(f"worker died (exit code {code})")))
                retry.extend(w.pending)
            elif not w.ready:
                self._failed_starts += 1
                if self._failed_starts > 3 * self.workers:
                    raise RuntimeError(f"verifier workers die on start (exit code {code})") from None
            self._replace(w)
            return
        if not w.ready:
            w.ready, self._failed_starts = True, 0
            return
        index, verdict = pickle.loads(message)
        w.pending.popleft()
        w.started = time.monotonic()
        done.append((index, verdict))

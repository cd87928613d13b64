"""skyt1.verifiers.pool: hard per-call timeouts, errors, worker replacement, indices."""

from __future__ import annotations

import os
import pathlib
import pickle
import signal
import subprocess
import time

import pytest

from skyt1.verifiers.pool import VerifierPool

LIMIT = 0.5


def echo(x) -> dict:
    return {"correct": True, "extracted": str(x), "reason": "correct"}


def pid(_=None) -> dict:
    return {"correct": True, "extracted": str(os.getpid()), "reason": "correct"}


def sleepy(x, seconds: float) -> dict:
    time.sleep(seconds)
    return echo(x)


def stubborn(x) -> dict:
    """Ignores every catchable signal and never returns: only SIGKILL stops it."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass


def spawner(pid_file: str) -> dict:
    """Starts a grandchild and hangs: the timeout must take the grandchild down too."""
    child = subprocess.Popen(["sleep", "60"])
    with open(pid_file, "w") as f:
        f.write(str(child.pid))
    time.sleep(60)
    return echo(0)


def boom(x) -> dict:
    raise ValueError(f"bad input {x}")


def not_a_verdict(x):
    return 42


def dies(x) -> dict:
    os._exit(7)


def _alive(p: int) -> bool:
    try:
        os.kill(p, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def pool():
    with VerifierPool(workers=2, timeout=LIMIT) as p:
        yield p


def test_every_index_once_with_its_own_result(pool):
    items = ((i,) for i in range(300))  # a lazy iterable
    results = list(pool.map(echo, items))
    assert sorted(i for i, _ in results) == list(range(300))
    assert all(v["extracted"] == str(i) for i, v in results)


def test_results_come_as_they_complete(pool):
    order = [i for i, _ in pool.map(sleepy, [(0, 0.3), (1, 0.0), (2, 0.0), (3, 0.0)])]
    assert sorted(order) == [0, 1, 2, 3] and order.index(2) < order.index(0)  # not input order


def test_timeout_kills_and_replaces_the_worker(pool):
    before = {v["extracted"] for _, v in pool.map(pid, [(i,) for i in range(20)])}
    start = time.monotonic()
    results = dict(pool.map(stubborn, [(0,)]))
    assert time.monotonic() - start <= LIMIT + 1.0
    assert results == {0: {"correct": False, "extracted": None, "reason": "timeout"}}
    after = {v["extracted"] for _, v in pool.map(pid, [(i,) for i in range(20)])}
    assert len(after) >= 1 and after != before  # a new worker took the killed one's place
    assert not any(_alive(int(p)) for p in before - after)


def test_each_call_has_its_own_deadline(pool):
    items = [(0, 0.0), (1, 5.0), (2, 0.1), (3, 5.0), (4, 0.1), (5, 0.0)]
    results = dict(pool.map(sleepy, items))
    # a deadline shared by the map (or started at submission) would time out the quick calls queued
    # behind the sleepers; each call's own limit lets them pass
    assert [results[i]["reason"] for i in range(6)] == [
        "correct",
        "timeout",
        "correct",
        "timeout",
        "correct",
        "correct",
    ]


def test_timeout_takes_down_what_the_call_spawned(pool, tmp_path):
    pid_file = tmp_path / "grandchild.pid"
    assert dict(pool.map(spawner, [(str(pid_file),)]))[0]["reason"] == "timeout"
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 2
    while _alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)  # the kill is immediate; the reaping by init may take a moment
    assert not _alive(grandchild) or pathlib.Path(f"/proc/{grandchild}/stat").read_text().split()[2] == "Z"


def test_exceptions_become_error_verdicts(pool):
    results = dict(pool.map(boom, [(1,), (2,)]))
    assert results[0]["reason"] == "error" and results[0]["correct"] is False
    assert results[0]["extracted"] is None and "ValueError: bad input 1" in results[0]["error"]
    assert dict(pool.map(not_a_verdict, [(1,)]))[0]["reason"] == "error"


def test_dead_worker_is_an_error_and_is_replaced(pool):
    results = dict(pool.map(dies, [(1,), (2,)]))
    assert {v["reason"] for v in results.values()} == {"error"}
    assert "exit code 7" in results[0]["error"]
    assert dict(pool.map(echo, [(5,)]))[0]["extracted"] == "5"


def test_abandoned_map_leaves_a_clean_pool(pool):
    gen = pool.map(sleepy, [(i, 0.05) for i in range(50)])
    next(gen)
    gen.close()
    # a generous limit: on a loaded machine a fresh worker can be starved past LIMIT, which is
    # a timeout verdict, not the stale result this test looks for
    assert sorted(pool.map(echo, [(i,) for i in range(10)], timeout=30)) == [(i, echo(i)) for i in range(10)]


def test_unpicklable_function_fails_fast(pool):
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pool.map(lambda x: echo(x), [(1,)])


def test_inline_mode_runs_in_process():
    with VerifierPool(workers=0) as inline:
        results = list(inline.map(pid, [(0,), (1,)]))
        assert [i for i, _ in results] == [0, 1]
        assert results[0][1]["extracted"] == str(os.getpid())
        assert next(inline.map(boom, [(3,)]))[1]["reason"] == "error"


def test_forkserver_workers():
    with VerifierPool(workers=1, timeout=LIMIT, start_method="forkserver") as fs:
        results = dict(fs.map(sleepy, [(0, 0.0), (1, 5.0), (2, 0.0)]))
    assert [results[i]["reason"] for i in range(3)] == ["correct", "timeout", "correct"]


def test_closed_pool_refuses_work():
    p = VerifierPool(workers=1, timeout=LIMIT)
    with p:
        assert dict(p.map(echo, [(1,)]))[0]["reason"] == "correct"
    with pytest.raises(RuntimeError):
        p.map(echo, [(1,)])


def exits(x) -> dict:
    raise SystemExit(3)


def test_system_exit_in_a_call_is_an_error(pool):
    results = dict(pool.map(exits, [(1,), (2,)]))
    assert [results[i]["reason"] for i in (0, 1)] == ["error", "error"]
    assert dict(pool.map(echo, [(5,)]))[0]["reason"] == "correct"


def test_closing_during_map_stops_it():
    p = VerifierPool(workers=1, timeout=LIMIT)
    gen = p.map(sleepy, [(i, 0.01) for i in range(5)])
    next(gen)
    p.close()
    with pytest.raises(RuntimeError):
        list(gen)

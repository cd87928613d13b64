"""maj@n's answer grouping, run in the time-limited verifier workers (not in the parent).

``vote_classes(rows, kind)`` returns, per problem, a class id for each distinct extracted answer:
answers with the same id vote together. The grouping is the greedy first-seen one of
``skyt1.metrics._vote`` (each answer joins the first group whose first answer it equals), with
equality from the kind's registry entry: ``math`` (``math.equivalent``), ``integer`` (the integer
denoted) or ``exact`` (the string). Problems whose answers need no comparison (one distinct answer,
integers only, or an ``exact`` kind) are grouped here; the others run as one job per problem in a
shared :class:`~skyt1.verifiers.pool.VerifierPool` with a hard limit of ``timeout`` seconds per
problem. A problem whose job runs out of time or fails is grouped by exact string - the vote can
be coarser then, never hang. Pass the result to ``skyt1.metrics.summarize(vote_classes=...)``.
"""

from __future__ import annotations

import atexit
import re
from collections.abc import Iterable

from skyt1.verifiers.registry import get

__all__ = ["answer_groups", "vote_classes", "classes_of", "close_pools"]

_INT = re.compile(r"[+-]?\d+")
_POOLS: dict[tuple, object] = {}
atexit.register(lambda: close_pools())


def _equal(vote: str):
    if vote == "math":
        from skyt1.verifiers.math import equivalent

        return equivalent
    if vote == "integer":
        from skyt1.verifiers.math import _integer_value

        return lambda a, b: a == b or (_integer_value(a) is not None and _integer_value(a) == _integer_value(b))
    return lambda a, b: a == b


def answer_groups(kind: str, answers: list[str]) -> dict:
    """Worker function: ``{"groups": [class id per answer]}``, greedy first-seen grouping."""
    eq, reps, out = _equal(get(kind).vote), [], []
    for a in answers:
        for gi, rep in enumerate(reps):
            if rep == a or eq(rep, a):
                out.append(gi)
                break
        else:
            reps.append(a)
            out.append(len(reps) - 1)
    return {"groups": out}


def _pool(workers: int, timeout: float):
    from skyt1.verifiers.math import warm_up
    from skyt1.verifiers.pool import VerifierPool

    key = (workers, timeout)
    if key not in _POOLS:
        _POOLS[key] = VerifierPool(workers=workers, timeout=timeout, warmup=warm_up)
    return _POOLS[key]


def close_pools() -> None:
    """Stop the shared voting workers (they are kept between calls: evaluate votes once per point)."""
    while _POOLS:
        _POOLS.popitem()[1].close()


def vote_classes(rows: Iterable[dict], kind: str = "math", *, workers: int = 2,
                 timeout: float = 20.0) -> dict[str, dict[str, int]]:
    """``{problem_id: {answer: class id}}`` for the rows' stripped ``extracted`` answers."""
    answers: dict[str, list[str]] = {}
    for r in rows:
        a = r.get("extracted")
        if a is not None and str(a).strip():
            seen = answers.setdefault(r["problem_id"], [])
            if (a := str(a).strip()) not in seen:
                seen.append(a)
    return classes_of(answers, kind, workers=workers, timeout=timeout)


def classes_of(answers: dict[str, list[str]], kind: str = "math", *, workers: int = 2, timeout: float = 20.0,
               pool=None) -> dict[str, dict[str, int]]:
    """``vote_classes`` from ``{problem_id: [distinct stripped answers]}`` (``metrics.Tally.distinct_answers``);
    ``pool``: a warm ``VerifierPool`` to group in (the score stage's), else the shared voting workers."""
    vote = get(kind).vote
    out, jobs = {}, []
    for pid, distinct in answers.items():
        if len(distinct) <= 1 or vote == "exact":
            out[pid] = {a: i for i, a in enumerate(distinct)}
        elif all(_INT.fullmatch(a) for a in distinct):
            values: dict[int, int] = {}
            out[pid] = {a: values.setdefault(int(a), len(values)) for a in distinct}
        else:
            jobs.append((pid, distinct))
    if jobs:
        from skyt1.verifiers.pool import VerifierPool

        if pool is None:
            pool = _pool(workers, timeout) if workers else VerifierPool(workers=0)
        for j, result in pool.map(answer_groups, [(kind, distinct) for _, distinct in jobs], timeout=timeout):
            pid, distinct = jobs[j]
            groups = result.get("groups") or range(len(distinct))  # timeout/error: exact strings
            out[pid] = dict(zip(distinct, groups))
    return out

"""score: a verdict for every sample (docs/architecture.md, contract "score").

Rows come from ``generate`` or from anywhere else. With a *generic* kind (``math``,
``number``, ``choice``, ``code``) the gold is inline (``answer`` or ``tests``); with a *named*
task (``math500``, ``arithmetic``, ...) rows carry the problem's ``id`` (or ``problem_id``) and
the gold comes from the task. Each output row adds ``correct``, ``extracted`` and ``reason``.
A response cut at ``max_tokens`` (``finish_reason == "length"``) is wrong, reason ``truncated``.
Verification runs in worker processes with a hard time limit per answer; with ``ray`` set
(``config.RayScoring``), shards of rows run as Ray tasks across a cluster, each with its own
worker processes, and their verdicts are written as each shard returns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from skyt1.cost import Ledger
from skyt1.progress import progress
from skyt1.records import RecordError, Stage, read_jsonl
from skyt1.verifiers.dispatch import KINDS, gold_of, verify
from skyt1.verifiers.registry import get as get_verifier
from skyt1.verifiers.verdict import make as make_verdict
from skyt1.verifiers.vote import close_pools

if TYPE_CHECKING:
    from skyt1.config import JudgeConfig, RayScoring

__all__ = ["resolve_rows", "verdicts", "verdicts_on_ray", "score", "summarize_verdicts", "row_key"]


def row_key(row: dict, position: int) -> tuple:
    if "problem_id" in row:
        return (row["problem_id"], row.get("index", 0))
    return (str(row.get("id", position)), 0)


def resolve_rows(path: Path, task: str) -> tuple[list[dict], str]:
    """Read rows and attach each one's gold; return ``(rows, verifier kind)``.

    Errors name the file, the line and the missing field.
    """
    if task in KINDS:
        need = ("response", *get_verifier(task).gold)
        rows = list(read_jsonl(path, required=need))
        return [dict(r, _kind=task) for r in rows], task
    from skyt1.tasks import get_task

    spec = get_task(task)
    problems = {p["id"]: p for split in spec.splits for p in spec.problems(split)}
    rows = []
    for lineno, r in enumerate(read_jsonl(path, required=("response",)), 1):
        pid = r.get("problem_id", r.get("id"))
        if pid is None:
            raise RecordError(f"{path}:{lineno}: missing field 'id' (the {task} problem id)")
        if pid not in problems:
            raise RecordError(f"{path}:{lineno}: field 'id': {pid!r} is not a problem of task {task!r}")
        gold = {k: v for k, v in problems[pid].items() if k in ("answer", "tests", "choices", "letters")}
        rows.append({**r, **gold, "problem_id": pid, "_kind": spec.verifier})
    return rows, spec.verifier


def verdicts(rows: list[dict], *, workers: int = 2, timeout: float = 5.0, code_timeout: float = 6.0,
             unsafe_code: bool = False, ray: RayScoring | None = None,
             judge: bool = False) -> Iterator[tuple[int, dict]]:
    """Yield ``(position, verdict)`` for each row, in completion order: from ``workers`` local
    processes, or with ``ray`` from shards on a Ray cluster (``verdicts_on_ray``)."""
    if ray is not None:
        yield from verdicts_on_ray(rows, ray, timeout=timeout, code_timeout=code_timeout, unsafe_code=unsafe_code)
        return
    from skyt1.verifiers.pool import VerifierPool

    jobs: dict[str, list[tuple[int, tuple]]] = {}
    for i, row in enumerate(rows):
        if row.get("finish_reason") == "length":
            yield i, make_verdict(False, None, "truncated")
            continue
        kind = row["_kind"]
        options = {"code_timeout": code_timeout, "unsafe": unsafe_code, "judge": judge}
        jobs.setdefault(kind, []).append((i, (kind, row["response"], gold_of(kind, row), options)))
    for kind, items in jobs.items():
        # Code runs its own sandbox with per-test limits; the pool limit only catches a hung judge.
        limit = timeout if kind != "code" else code_timeout * (max(_n_tests(a[2]["tests"]) for _, a in items) + 2) + 10
        with VerifierPool(workers=workers, timeout=limit, warmup=_warmup(kind)) as pool:
            for j, verdict in pool.map(verify, [args for _, args in items]):
                yield items[j][0], verdict


def verdicts_on_ray(rows: list[dict], cfg: RayScoring, *, timeout: float = 5.0, code_timeout: float = 6.0,
                    unsafe_code: bool = False) -> Iterator[tuple[int, dict]]:
    """``verdicts`` with shards of ``rows`` as Ray tasks; yields each shard's verdicts as it returns."""
    from skyt1.cluster import connect

    ray, started = connect(cfg.address, cfg.num_cpus)
    task = ray.remote(_score_shard).options(num_cpus=cfg.workers_per_shard, runtime_env=cfg.runtime_env, max_retries=1)
    pending = {}
    try:
        for start in range(0, len(rows), cfg.shard_size):
            shard = rows[start : start + cfg.shard_size]
            pending[task.remote(shard, cfg.workers_per_shard, timeout, code_timeout, unsafe_code)] = start
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            start = pending.pop(ref)
            for pos, verdict in ray.get(ref):
                yield start + pos, verdict
    finally:
        for ref in pending:  # the caller stopped early or a shard failed: drop queued work
            with contextlib.suppress(Exception):
                ray.cancel(ref)
        if started:
            ray.shutdown()


def _score_shard(rows: list[dict], workers: int, timeout: float, code_timeout: float,
                 unsafe_code: bool) -> list[tuple[int, dict]]:
    return list(verdicts(rows, workers=workers, timeout=timeout, code_timeout=code_timeout, unsafe_code=unsafe_code))


def _warmup(kind: str):
    """Math workers parse a few answers first, so the first real answer is not charged the import."""
    if kind in ("math", "math_int", "number"):
        from skyt1.verifiers.math import warm_up

        return warm_up
    return None


def _n_tests(tests: dict | list) -> int:
    if isinstance(tests, list):
        return len(tests)
    return len(tests.get("inputs") or tests.get("asserts") or [0])


def score(rows: list[dict], stage: Stage, *, workers: int = 2, timeout: float = 5.0, code_timeout: float = 6.0,
          ks: Iterable[int] = (1,), unsafe_code: bool = False, prices: dict | None = None,
          ray: RayScoring | None = None, judge: JudgeConfig | None = None) -> dict:
    """Score ``rows`` into ``stage`` (resumable by row key) and finish it with a summary."""
    ledger = Ledger(stage="score").start(carry=stage.spent_path)
    done = stage.done_keys(lambda r: tuple(r["_key"]))
    pending = [(row_key(r, i), r) for i, r in enumerate(rows)]
    pending = [(k, r) for k, r in pending if k not in done]
    with stage.writer() as write, progress(f"score {len(pending)} samples", len(pending), unit="verdicts") as bar:
        todo = [r for _, r in pending]
        stream = verdicts(todo, workers=workers, timeout=timeout, code_timeout=code_timeout, unsafe_code=unsafe_code,
                          ray=ray, judge=judge is not None)
        if judge is not None:  # ask the judge model about what the rules could not decide
            from skyt1.verifiers.llm_judge import resolve

            stream = resolve(stream, todo, judge)
        for pos, verdict in stream:
            key, row = pending[pos]
            out = {k: v for k, v in row.items() if k != "_kind"}
            out.update(verdict, _key=list(key))
            write(out)
            bar.advance(1)
    records = stage.records()
    kinds = {r["_kind"] for r in rows}
    summary = summarize_verdicts(records, ks=ks, kind=kinds.pop() if len(kinds) == 1 else "math", workers=workers,
                                 timeout=4 * timeout)
    close_pools()  # no idle voting workers during the next stage
    stage.finish(summary, ledger.stop().to_dict(prices))
    return summary


def summarize_verdicts(records: list[dict], ks: Iterable[int] = (1,), *, kind: str = "math", workers: int = 2,
                       timeout: float = 20.0) -> dict:
    """``metrics.summarize`` with maj@n's answers grouped in time-limited workers (``verifiers.vote``)."""
    from skyt1.metrics import summarize
    from skyt1.verifiers.llm_judge import judge_counts
    from skyt1.verifiers.vote import vote_classes

    rows = [dict(r, problem_id=r.get("problem_id", r["_key"][0] if "_key" in r else r.get("id"))) for r in records]
    classes = vote_classes(rows, kind, workers=workers, timeout=timeout)
    summary = summarize(rows, ks=tuple(ks), vote_classes=classes)
    if (judges := judge_counts(rows)) is not None:
        summary["judges"] = judges  # how often the rules and the LLM judge decided
    return summary


def plan(recipe, *, inp: Path | None = None, out: Path | None = None) -> Stage:
    """The score stage of ``recipe``: verdicts for the generate stage's samples."""
    src = Path(inp) if inp else recipe.run_path / "generate" / "records.jsonl"
    # Where verdicts are computed (local processes or a Ray cluster) does not change them: not hashed.
    return Stage(Path(out) if out else recipe.run_path / "score", "score", recipe.score.model_dump(exclude={"ray"}),
                 inputs=[src])


def run(recipe, stage: Stage) -> dict:
    from skyt1.tasks import get_task

    s = recipe.score
    rows = [dict(r, _kind=r.get("verifier") or get_task(r["task"]).verifier) for r in read_jsonl(stage.inputs[0])]
    return score(rows, stage, workers=s.workers, timeout=s.timeout, code_timeout=s.code_timeout, ks=s.ks,
                 prices=recipe.prices.model_dump(), ray=s.ray, judge=s.judge)

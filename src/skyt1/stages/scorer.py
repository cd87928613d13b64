"""Verdicts for batches of rows: the verifier processes of a whole score stage (``Scorer``), local or on Ray.

``Scorer(workers=2, timeout=5.0, code_timeout=6.0, unsafe_code=False, ray=None, judge=None)`` is a context
manager; ``scorer(rows, kinds)`` yields ``(position, verdict)`` for one batch as verdicts complete. Locally
it keeps one ``VerifierPool`` per verifier kind open between batches (math workers warm up once; a code
batch's time limit follows its largest number of tests); with ``ray`` (``config.RayScoring``) each
batch runs as shards of ``shard_size`` rows, Ray tasks with their own worker processes. A response cut at
``max_tokens`` (``finish_reason == "length"``) is wrong, reason ``truncated``, without a worker. With
``judge`` (``config.JudgeConfig``) the workers tag what the rules cannot decide and the judge model, made
on first use and closed with the scorer, decides it (``verifiers.llm_judge``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from skyt1.records import RecordError
from skyt1.verifiers.dispatch import gold_of, verify
from skyt1.verifiers.verdict import make as make_verdict

if TYPE_CHECKING:
    from skyt1.config import JudgeConfig, RayScoring

__all__ = ["Scorer", "verdicts", "row_key", "kind_of"]


def row_key(row: dict, position: int) -> tuple:
    if "problem_id" in row:
        return (row["problem_id"], row.get("index", 0))
    return (str(row.get("id", position)), 0)


def kind_of(row: dict, verifier: str | None = None) -> str:
    """The verifier kind of ``row``: ``verifier`` when given, else the row's ``verifier`` field."""
    kind = verifier or row.get("verifier")
    if not kind:
        raise RecordError(f"row {row_key(row, -1)}: no 'verifier' field, and no verifier was given")
    return kind


class _LazyBackend:
    """The judge's backend, made on first use (most batches ask it nothing), closed with the scorer."""

    def __init__(self, spec) -> None:
        self.spec, self.backend = spec, None

    def generate(self, *args, **kwargs):
        if self.backend is None:
            from skyt1.backends import make_backend

            self.backend = make_backend(self.spec)
        return self.backend.generate(*args, **kwargs)

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()


class Scorer:
    """Verdicts for batches of rows (``scorer(rows, kinds)`` yields ``(position, verdict)`` as they
    complete), with one ``VerifierPool`` per kind kept for the whole stage (math workers warm up
    once), or shards on Ray; with ``judge``, the LLM judge decides what the rules cannot. Close it
    (a context manager)."""

    def __init__(self, *, workers: int = 2, timeout: float = 5.0, code_timeout: float = 6.0,
                 unsafe_code: bool = False, ray: RayScoring | None = None, judge: JudgeConfig | None = None) -> None:
        self.workers, self.timeout, self.code_timeout = workers, timeout, code_timeout
        self.ray, self.judge = ray, judge
        self.options = {"code_timeout": code_timeout, "unsafe": unsafe_code, "judge": judge is not None}
        self.pools: dict = {}
        self._ray = self._task = None
        self._started = False
        self._judge = _LazyBackend(judge.model) if judge is not None else None

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        while self.pools:
            self.pools.popitem()[1].close()
        if self._judge is not None:
            self._judge.close()
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __call__(self, rows: list[dict], kinds: list[str]) -> Iterator[tuple[int, dict]]:
        stream = self._local(rows, kinds) if self.ray is None else self._on_ray(rows, kinds)
        if self.judge is not None:  # ask the judge model about what the rules could not decide
            from skyt1.verifiers.llm_judge import resolve

            stream = resolve(stream, rows, self.judge, backend=self._judge)
        return stream

    def _local(self, rows: list[dict], kinds: list[str]) -> Iterator[tuple[int, dict]]:
        jobs: dict[str, list[tuple[int, tuple]]] = {}
        for i, (row, kind) in enumerate(zip(rows, kinds)):
            if row.get("finish_reason") == "length":
                yield i, make_verdict(False, None, "truncated")
                continue
            jobs.setdefault(kind, []).append((i, (kind, row["response"], gold_of(kind, row), self.options)))
        for kind, items in jobs.items():
            limit = self.timeout
            if kind == "code":  # the sandbox limits each test; the pool limit only catches a hung judge
                limit = self.code_timeout * (max(_n_tests(args[2]["tests"]) for _, args in items) + 2) + 10
            for j, verdict in self._pool(kind).map(verify, [args for _, args in items], timeout=limit):
                yield items[j][0], verdict

    def _pool(self, kind: str):
        from skyt1.verifiers.pool import VerifierPool

        if kind not in self.pools:
            self.pools[kind] = VerifierPool(workers=self.workers, timeout=self.timeout, warmup=_warmup(kind))
        return self.pools[kind]

    def _on_ray(self, rows: list[dict], kinds: list[str]) -> Iterator[tuple[int, dict]]:
        """Shards of ``rows`` as Ray tasks; yields each shard's verdicts as it returns."""
        cfg = self.ray
        if self._ray is None:
            from skyt1.cluster import connect

            self._ray, self._started = connect(cfg.address, cfg.num_cpus)
            self._task = self._ray.remote(_score_shard).options(num_cpus=cfg.workers_per_shard,
                                                               runtime_env=cfg.runtime_env, max_retries=1)
        ray, pending = self._ray, {}
        try:
            for start in range(0, len(rows), cfg.shard_size):
                end = start + cfg.shard_size
                ref = self._task.remote(rows[start:end], kinds[start:end], cfg.workers_per_shard, self.timeout,
                                        self.code_timeout, self.options)
                pending[ref] = start
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                start = pending.pop(ref)
                for pos, verdict in ray.get(ref):
                    yield start + pos, verdict
        finally:
            for ref in pending:  # the caller stopped early or a shard failed: drop queued work
                with contextlib.suppress(Exception):
                    ray.cancel(ref)


def _score_shard(rows: list[dict], kinds: list[str], workers: int, timeout: float, code_timeout: float,
                 options: dict) -> list[tuple[int, dict]]:
    with Scorer(workers=workers, timeout=timeout, code_timeout=code_timeout, unsafe_code=options["unsafe"]) as s:
        s.options = options
        return list(s(rows, kinds))


def verdicts(rows: list[dict], *, verifier: str | None = None, workers: int = 2, timeout: float = 5.0,
             code_timeout: float = 6.0, unsafe_code: bool = False,
             ray: RayScoring | None = None) -> Iterator[tuple[int, dict]]:
    """Yield ``(position, verdict)`` for each row, in completion order (``Scorer`` for one batch)."""
    kinds = [kind_of(r, verifier) for r in rows]
    with Scorer(workers=workers, timeout=timeout, code_timeout=code_timeout, unsafe_code=unsafe_code, ray=ray) as s:
        yield from s(rows, kinds)


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

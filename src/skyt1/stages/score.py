"""score: a verdict for every sample (docs/architecture.md, contract "score").

Rows come from ``generate`` or from anywhere else. With a *generic* kind (``math``,
``number``, ``choice``, ``code``) the gold is inline (``answer`` or ``tests``); with a *named*
task (``math500``, ``arithmetic``, ...) rows carry the problem's ``id`` (or ``problem_id``) and
the gold comes from the task. Each output row adds ``correct``, ``extracted`` and ``reason``.
A response cut at ``max_tokens`` (``finish_reason == "length"``) is wrong, reason ``truncated``.
The verifier is passed explicitly (``verifier=``, one kind for every row) or is each row's own
``verifier`` field, which ``generate`` writes.

Verification runs in worker processes with a hard time limit per answer, kept for the whole stage
(``Scorer``); with ``ray`` set (``config.RayScoring``), shards of rows run as Ray tasks across a
cluster, each with its own worker processes. Rows stream through in batches. Memory bound: one
batch of rows (``batch``, 512: about 5 MB of Sky-T1-length traces), the keys already written when a
stage resumes (8 bytes a row, ``records.WrittenKeys``), and for the summary, 8 bytes a problem per
score and 16 a row for the token statistics: what each record adds to the per-problem tally (its id,
verdict, extracted answer, tokens, breakdown values) goes to a temporary file of its problem's part
(``_Summary``), and the parts are tallied one at a time. ``benchmarks/bench_scale.py`` measures it.
"""

from __future__ import annotations

import json
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

from skyt1.cost import Ledger
from skyt1.metrics import Scores, Tally
from skyt1.progress import progress
from skyt1.records import RecordError, Stage, WrittenKeys, batched, read_jsonl
from skyt1.stages.scorer import Scorer, kind_of, row_key, verdicts
from skyt1.verifiers.dispatch import KINDS
from skyt1.verifiers.registry import get as get_verifier
from skyt1.verifiers.vote import close_pools

if TYPE_CHECKING:
    from skyt1.config import JudgeConfig, RayScoring

__all__ = ["resolve_rows", "verdicts", "Scorer", "score", "summarize_verdicts", "row_key", "kind_of", "score_file"]


def resolve_rows(path: Path, task: str) -> tuple[Iterator[dict], str]:
    """Rows of ``path`` with their gold attached, read as they are consumed; and the verifier kind.

    Errors name the file, the line and the missing field.
    """
    if task in KINDS:
        return read_jsonl(path, required=("response", *get_verifier(task).gold)), task
    from skyt1.tasks import get_task

    spec = get_task(task)
    problems = {p["id"]: p for split in spec.splits for p in spec.problems(split)}

    def rows() -> Iterator[dict]:
        for lineno, r in enumerate(read_jsonl(path, required=("response",)), 1):
            pid = r.get("problem_id", r.get("id"))
            if pid is None:
                raise RecordError(f"{path}:{lineno}: missing field 'id' (the {task} problem id)")
            if pid not in problems:
                raise RecordError(f"{path}:{lineno}: field 'id': {pid!r} is not a problem of task {task!r}")
            gold = {k: v for k, v in problems[pid].items() if k in ("answer", "tests", "choices", "letters")}
            yield {**r, **gold, "problem_id": pid}

    return rows(), spec.verifier


def score(rows: Iterable[dict], stage: Stage, *, verifier: str | None = None, workers: int = 2, timeout: float = 5.0,
          code_timeout: float = 6.0, ks: Iterable[int] = (1,), unsafe_code: bool = False, prices: dict | None = None,
          ray: RayScoring | None = None, judge: JudgeConfig | None = None,
          key: Callable[[dict, int], tuple] = row_key, ordered: bool = False, total: int | None = None,
          batch: int = 512) -> dict:
    """Score ``rows`` into ``stage`` (resumable by ``key``, kept in each record as ``_key``) and finish
    it with a summary. ``verifier``: the kind of every row (None: each row's ``verifier`` field).
    ``ordered``: records are written in input order (a batch's verdicts wait for the earlier ones).
    Memory: one batch of rows, the keys already written, the summary's tally (module docstring)."""
    ledger = Ledger(stage="score").start(carry=stage.spent_path)
    done, summary = WrittenKeys(), _Summary(verifier)
    for r in stage.iter_records():  # what a resumed stage wrote before: skipped, and summarised
        done.add(r["_key"])
        summary.add(r)
    if ray is not None:
        batch = max(batch, 16 * ray.shard_size)
    with Scorer(workers=workers, timeout=timeout, code_timeout=code_timeout, unsafe_code=unsafe_code, ray=ray,
                judge=judge) as scorer:
        with stage.writer() as write, progress("score", total, unit="verdicts") as bar:
            bar.advance(len(done))
            for chunk in batched(enumerate(rows), batch):
                todo = [(k, r) for k, r in ((key(r, i), r) for i, r in chunk) if k not in done]
                scored = scorer([r for _, r in todo], [kind_of(r, verifier) for _, r in todo])
                for k, row, verdict in _settled(scored, todo, ordered):
                    record = {**row, **verdict, "_key": list(k)}
                    write(record)
                    summary.add(record)
                    bar.advance(1)
        result = summary.result(ks, workers=workers, timeout=4 * timeout, pool=scorer.pools.get)
    close_pools()  # no idle voting workers during the next stage
    stage.finish(result, ledger.stop().to_dict(prices))
    return result


def _settled(scored: Iterable[tuple[int, dict]], todo: list[tuple], ordered: bool) -> Iterator[tuple]:
    """``(key, row, verdict)`` as verdicts come, or (``ordered``) as soon as every earlier one has come."""
    ready: dict[int, dict] = {}
    upto = 0
    for pos, verdict in scored:
        if not ordered:
            yield (*todo[pos], verdict)
            continue
        ready[pos] = verdict
        while upto in ready:
            yield (*todo[upto], ready.pop(upto))
            upto += 1


def _problem_id(r: dict):
    if "problem_id" in r:
        return r["problem_id"]
    return str(r["id"]) if "id" in r else str(r["_key"][0]) if "_key" in r else None


def summarize_verdicts(records: Iterable[dict], ks: Iterable[int] = (1,), *, kind: str | None = "math",
                       workers: int = 2, timeout: float = 20.0, pool: Callable | None = None) -> dict:
    """``metrics.summarize`` with maj@n's answers grouped in time-limited workers (``verifiers.vote``),
    reading ``records`` once. ``kind`` None: the records' own ``verifier`` (their one kind, else math).
    ``pool(kind)``: warm verifier workers of that kind to group in (the scorer's), or None."""
    summary = _Summary(kind)
    for r in records:
        summary.add(r)
    return summary.result(ks, workers=workers, timeout=timeout, pool=pool)


class _Summary:
    """``summarize_verdicts``, one record at a time (the judges, the kinds, and ``metrics.Tally``).
    What the tally reads of each record goes to one of ``PARTS`` temporary files, chosen by its
    problem; ``result`` tallies one file at a time and merges them (``metrics.Scores``), so memory
    holds one part's problems, not every problem's (about 180 bytes a row in one tally)."""

    PARTS = 64

    def __init__(self, kind: str | None) -> None:
        self.kind, self.judges, self.kinds = kind, Counter(), set()
        self._dir = tempfile.TemporaryDirectory(prefix="skyt1-tally-")
        self._parts: dict[int, IO[str]] = {}

    def add(self, r: dict) -> None:
        pid = _problem_id(r)
        slim = Tally.fields(r, pid)
        part = zlib.crc32(str(pid).encode("utf-8")) % self.PARTS
        if (fh := self._parts.get(part)) is None:
            fh = self._parts[part] = open(Path(self._dir.name, f"{part}.jsonl"), "w", encoding="utf-8")
        fh.write(json.dumps(slim, ensure_ascii=False) + "\n")
        if "judge" in r:
            self.judges[r["judge"]] += 1
        if self.kind is None:
            self.kinds.add(r.get("verifier"))

    def result(self, ks: Iterable[int], *, workers: int, timeout: float, pool: Callable | None) -> dict:
        from skyt1.verifiers.vote import classes_of

        kind = self.kind
        if kind is None:
            kind = next(iter(self.kinds)) if len(self.kinds) == 1 and None not in self.kinds else "math"
        scores = Scores(ks)
        try:
            for part in sorted(self._parts):
                self._parts[part].close()
                with open(self._parts[part].name, encoding="utf-8") as fh:
                    tally = Tally(json.loads(line) for line in fh)
                # Only the problems whose vote depends on how answers group: the same maj@n, far fewer comparisons.
                classes = classes_of(tally.distinct_answers(decided=False), kind, workers=workers, timeout=timeout,
                                     pool=pool(kind) if pool is not None else None)
                scores.add(tally, vote_classes=classes)
        finally:
            self._dir.cleanup()
        summary = scores.summary()
        if self.judges:  # how often the rules and the LLM judge decided (``llm_judge.judge_counts``)
            summary["judges"] = {"rule": self.judges["rule"], "llm": self.judges["llm"]}
        return summary


def plan(recipe, *, inp: Path | None = None, out: Path | None = None) -> Stage:
    """The score stage of ``recipe``: verdicts for the generate stage's samples."""
    src = Path(inp) if inp else recipe.run_path / "generate" / "records.jsonl"
    # Where verdicts are computed (local processes or a Ray cluster) does not change them: not hashed.
    return Stage(Path(out) if out else recipe.run_path / "score", "score", recipe.score.model_dump(exclude={"ray"}),
                 inputs=[src])


def _with_verifier(rows: Iterable[dict]) -> Iterator[dict]:
    """Rows that lack the ``verifier`` field (written before generate recorded it) get their task's."""
    from skyt1.tasks import get_task

    for r in rows:
        yield r if r.get("verifier") else dict(r, verifier=get_task(r["task"]).verifier)


def run(recipe, stage: Stage) -> dict:
    s = recipe.score
    return score(_with_verifier(read_jsonl(stage.inputs[0])), stage, workers=s.workers, timeout=s.timeout,
                 code_timeout=s.code_timeout, ks=s.ks, prices=recipe.prices.model_dump(), ray=s.ray, judge=s.judge,
                 total=count_rows(stage.inputs[0]))


def count_rows(path: Path) -> int:
    """Non-blank lines of a JSONL file (read in binary, nothing parsed): a progress bar's total."""
    with Path(path).open("rb") as fh:
        return sum(1 for line in fh if line.strip())


def file_stage(inp: Path, dest: Path, task: str, *, timeout: float = 5.0, code_timeout: float = 6.0,
               unsafe_code: bool = False) -> Stage:
    """The stage behind ``skyt1 score --in INP --out DEST``: the hidden directory ``.DEST.stage`` next to
    ``dest``, hashed with the input's content and the options that change verdicts."""
    config = {"task": task, "timeout": timeout, "code_timeout": code_timeout, "unsafe_code": unsafe_code}
    return Stage(dest.with_name(f".{dest.name}.stage"), "score", config, inputs=[Path(inp)])


def score_file(inp: Path, dest: Path, task: str, *, ks: Iterable[int] = (1,), workers: int = 2,
               timeout: float = 5.0, code_timeout: float = 6.0, unsafe_code: bool = False,
               ray: RayScoring | None = None, log: Callable[[str], object] = print) -> dict:
    """``skyt1 score``: score any JSONL ``inp`` into ``dest``, rows in input order, and return the summary.

    Verdicts go to ``file_stage``'s records as they come (keyed by line position, in input order),
    so a rerun after a crash scores only the rest; a stage left by other input or options starts
    over. ``dest`` is written whole, then renamed (a partial output never looks complete), and the
    stage directory is removed. Memory: as ``score``.
    """
    import os
    import shutil

    rows, kind = resolve_rows(inp, task)
    stage = file_stage(inp, dest, task, timeout=timeout, code_timeout=code_timeout, unsafe_code=unsafe_code)
    stage.check(force=True)  # resumes the same work; other input or options start over
    total = count_rows(inp)
    if (done := sum(1 for _ in stage.iter_records())):
        log(f"resuming: {done} of {total} rows already scored ({stage.dir})")
    summary = score(rows, stage, verifier=kind, workers=workers, timeout=timeout, code_timeout=code_timeout,
                    ks=ks, unsafe_code=unsafe_code, ray=ray, key=lambda _row, i: (i,), ordered=True, total=total)
    tmp = dest.with_name(f".{dest.name}.partial")
    with tmp.open("wb") as fh:
        for line in _in_input_order(stage.records_path):
            fh.write(line)
    os.replace(tmp, dest)
    shutil.rmtree(stage.dir)
    return summary


def _position(line: bytes) -> int:
    # ``_key`` is the last field of every record ``score`` writes: read it without parsing the row.
    return json.loads(line[line.rindex(b'"_key": ') + 8 : -2])[0]


def _in_input_order(path: Path) -> Iterator[bytes]:
    """The records of ``path`` without ``_key``, by position. Each run of ``score(ordered=True)``
    appends its rows in order, so the file is a few ascending runs (one per resume): merged here
    with one file handle per run, never the whole file in memory."""
    import heapq

    runs, start, last, offset = [], 0, -1, 0
    with path.open("rb") as fh:
        for line in fh:
            pos = _position(line)
            if pos < last:
                runs.append((start, offset))
                start = offset
            last, offset = pos, offset + len(line)
    runs.append((start, offset))

    def run(begin: int, end: int) -> Iterator[tuple[int, bytes]]:
        with path.open("rb") as fh:
            fh.seek(begin)
            while fh.tell() < end:
                line = fh.readline()
                yield _position(line), line[: line.rindex(b', "_key": ')] + b"}\n"

    for _, line in heapq.merge(*(run(b, e) for b, e in runs if e > b)):
        yield line

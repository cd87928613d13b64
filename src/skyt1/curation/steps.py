"""The curate stage's steps: named filters over batches of rows, run in order by ``run.run_steps``.

A step is called on a batch and returns ``(kept, dropped)``; dropped rows are copies carrying
``drop_reason`` (and, where it applies, ``drop_detail`` or ``contamination``). A step keeps what
it must remember across batches (the problems it has decided, the traces it has kept) and
nothing else: memory grows with problems or kept traces by the bounds stated on each class,
never with their text. A step may be called again on the same rows in the same order (a
preparation pass, then the real one, see ``run``): its decisions are memoised by problem or by
ordinal, so a second pass repeats them without redoing the work.

``needs_pass``: a step that can only decide once it has seen every row reaching it (the
rejection-sampling policies that compare a problem's samples, difficulty labels, the mixture)
gets those rows through ``observe`` in a preparation pass, then ``settle()``. ``logged=False``
marks an annotation (labels, token counts) that drops nothing and is not a step of the log.
"""

from __future__ import annotations

from skyt1.curation import partition
from skyt1.curation.copies import SampleDedup
from skyt1.curation.select import _index, _ineligible, response_length, select
from skyt1.curation.shards import contamination, problem_features
from skyt1.curation.thought import check_format

__all__ = ["Contamination", "Gold", "Problems", "Rewrite", "Samples", "Select", "Step", "missing_gold"]


def missing_gold(row: dict) -> str | None:
    """``"answer"`` or ``"tests"`` when the row's problem lacks what verifies it, else None."""
    if row.get("domain") == "code":
        tests = row.get("tests")
        if not tests or (isinstance(tests, dict) and "inputs" in tests and not tests["inputs"]):
            return "tests"
        return None
    answer = row.get("answer")
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return None if row.get("tests") else "answer"
    return None


class Step:
    name = ""
    logged = True
    needs_pass = False

    def __init__(self) -> None:
        self._n = 0  # ordinal of the next row reaching this step in the current pass

    def rewind(self) -> None:
        self._n = 0

    def observe(self, rows: list[dict]) -> None:
        pass

    def settle(self) -> None:
        pass

    def report(self) -> dict:
        """Extra fields of this step's log entry."""
        return {}

    def __call__(self, rows: list[dict]) -> tuple[list[dict], list[dict]]:
        raise NotImplementedError


class Gold(Step):
    """Rows whose problem has no gold (no answer; for code, no tests). Memory: none."""

    name = "gold"

    def __call__(self, rows):
        return partition(rows, lambda _, r: None if (w := missing_gold(r)) is None else f"missing_gold:{w}")


class Select(Step):
    """The rejection-sampling policy (``curation.select``). ``all_correct`` decides row by row;
    the others need a preparation pass and keep one ``(key, ordinal)`` per problem."""

    name = "select"

    def __init__(self, policy: str):
        super().__init__()
        self.policy, self.needs_pass = policy, policy != "all_correct"
        self._best: dict = {}
        self._seen = 0

    def observe(self, rows):
        for row in rows:
            pos, self._seen = self._seen, self._seen + 1
            if _ineligible(row) is None:
                key = (response_length(row), _index(row, pos), pos) if self.policy == "shortest_correct" else (
                    _index(row, pos), pos)
                pid = row.get("problem_id", row.get("id"))
                if pid not in self._best or key < self._best[pid]:
                    self._best[pid] = key

    def __call__(self, rows):
        if not self.needs_pass:
            return select(rows, self.policy)
        start, self._n = self._n, self._n + len(rows)

        def reason(i: int, row: dict) -> str | None:
            why = _ineligible(row)
            if why:
                return why
            return None if self._best[row.get("problem_id", row.get("id"))][-1] == start + i else "not_selected"

        return partition(rows, reason)


class Rewrite(Step):
    """A failed rewrite, or ``formatted`` text that is not well-formed Sky-T1. Memory: none."""

    name = "rewrite"

    def __call__(self, rows):
        def reason(_: int, r: dict) -> str | None:
            status = str(r.get("rewrite", "ok"))
            if not r.get("formatted") or status != "ok":
                return "rewrite_failed:" + (status if status != "ok" else "no formatted text")
            problems = check_format(str(r["formatted"]), domain=r.get("domain", "math"))
            return "rewrite_invalid:" + "; ".join(problems) if problems else None

        return partition(rows, reason)


class Samples(Step):
    """``dedup_samples``: the same ``formatted`` trace twice for one problem
    (``duplicate_sample``), and near copies of one problem's teacher ``response``
    (``near_copy_of:<index>``, ``drop_detail`` = the sketch similarity) when ``threshold`` is
    set (``copies.SampleDedup``). Memory: ``SampleDedup``'s per kept trace, plus one entry per
    dropped row (its ordinal), for the replay."""

    name = "dedup_samples"

    def __init__(self, threshold: float | None, ids):
        super().__init__()
        self.ids, self.seen = ids, SampleDedup(threshold)
        self._drops: dict[int, tuple[str, float | None]] = {}
        self._decided = 0

    def _decide(self, row: dict) -> tuple[str, float | None] | None:
        return self.seen.check(self.ids(row["problem_id"]), str(row["formatted"]), label=str(row.get("index", "")),
                               near_text=str(row.get("response") or row["formatted"]))

    def __call__(self, rows):
        kept, dropped = [], []
        for row in rows:
            pos, self._n = self._n, self._n + 1
            if pos >= self._decided:
                self._decided = pos + 1
                hit = self._decide(row)
                if hit is not None:
                    self._drops[pos] = hit
            hit = self._drops.get(pos)
            if hit is None:
                kept.append(row)
            else:
                extra = {} if hit[1] is None else {"drop_detail": hit[1]}
                dropped.append({**row, "drop_reason": hit[0], **extra})
        return kept, dropped


class _PerProblem(Step):
    """A verdict per problem, taken when its first row arrives and memoised: one byte per
    problem (``ids``: the run's ``run.ProblemIds``), plus the drop fields of each dropped one.
    ``mapper`` runs the heavy part."""

    def __init__(self, mapper, ids):
        super().__init__()
        self.mapper, self.ids = mapper, ids
        self._state = bytearray()  # per problem: 0 undecided, 1 kept, 2 dropped
        self._drops: dict[int, dict] = {}

    def decide(self, new: list[tuple[int, str, str]]) -> None:
        """Call ``self.verdict(i, fields)`` for each new ``(id, problem_id, question)``."""
        raise NotImplementedError

    def verdict(self, i: int, fields: dict | None) -> None:
        self._state[i] = 1 if fields is None else 2
        if fields is not None:
            self._drops[i] = fields

    def __call__(self, rows):
        if len(self._state) < len(self.ids):
            self._state.extend(bytes(len(self.ids) - len(self._state)))
        new: dict[int, tuple[int, str, str]] = {}
        for r in rows:
            i = self.ids(r["problem_id"])
            if self._state[i] == 0 and i not in new:
                new[i] = (i, r["problem_id"], str(r.get("question", "")))
        if new:
            self.decide(list(new.values()))
        kept, dropped = [], []
        for r in rows:
            i = self.ids(r["problem_id"])
            (kept.append(r) if self._state[i] == 1 else dropped.append({**r, **self._drops[i]}))
        return kept, dropped


class Problems(_PerProblem):
    """``dedup``: exact (``duplicate_of:<id>``) then MinHash near duplicates
    (``near_duplicate_of:<id>``, ``drop_detail`` = the estimate) across problems, first
    occurrence wins. Memory per problem: a byte, 12 bytes for its normalised text's key
    (``lsh.Runs``) and, for kept ones, ``lsh.NearIndex``'s 516 bytes."""

    name = "dedup"

    def __init__(self, threshold: float | None, mapper, ids, num_perm: int = 128):
        from skyt1.curation.lsh import NearIndex, Runs

        super().__init__(mapper, ids)
        self.num_perm = num_perm
        self._exact = Runs()
        self.index = NearIndex(threshold, num_perm) if threshold is not None else None

    def decide(self, new):
        feats = self.mapper(problem_features, [q for _, _, q in new], self.num_perm)
        for (i, pid, _), (tkey, sig, nums) in zip(new, feats, strict=True):
            first = self._exact.get(tkey)
            if first:
                self.verdict(i, {"drop_reason": f"duplicate_of:{self.ids.names[first[0]]}"})
                continue
            self._exact.add(tkey, i)
            hit = self.index.query(sig, nums) if self.index is not None else None
            if hit is not None:
                self.verdict(i, {"drop_reason": f"near_duplicate_of:{hit[0]}", "drop_detail": round(hit[1], 4)})
                continue
            if self.index is not None:
                self.index.add(pid, sig, nums)
            self.verdict(i, None)


class Contamination(_PerProblem):
    """``decontaminate``: problems matching an evaluation benchmark (``contaminated:<benchmark>``,
    ``contamination`` = the check). Memory: a byte per problem, the check of each dropped one,
    and the benchmark index."""

    name = "decontaminate"

    def __init__(self, benchmarks: list[str], min_overlap: float, mapper, ids):
        super().__init__(mapper, ids)
        self.benchmarks, self.min_overlap = tuple(benchmarks), min_overlap

    def decide(self, new):
        hits = self.mapper(contamination, [q for _, _, q in new], self.benchmarks, self.min_overlap)
        for (i, _, _), hit in zip(new, hits, strict=True):
            self.verdict(i, None if hit is None else {"drop_reason": f"contaminated:{hit['benchmark']}",
                                                      "contamination": hit})

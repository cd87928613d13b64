"""The curate stage's later steps: difficulty labels and bounds, token counts and the length
filter, the mixture. Same protocol as ``curation.steps``."""

from __future__ import annotations

import sys

from skyt1.curation.steps import Step

__all__ = ["DifficultyFilter", "DifficultyLabels", "Length", "Mixture", "Tokens"]


class DifficultyLabels(Step):
    """Attaches ``difficulty`` and ``difficulty_source`` (``curation.difficulty.label_difficulty``,
    rated once per problem after a preparation pass). Memory per problem: its label, and during
    the preparation pass its question (the rater's prompt)."""

    name, logged, needs_pass = "difficulty_labels", False, True

    def __init__(self, rater, prompt: str | None, cache_path, ledger):
        super().__init__()
        self.rater, self.prompt, self.cache_path, self.ledger = rater, prompt, cache_path, ledger
        self._first: dict[str, dict] = {}
        self.labels: dict[str, tuple] = {}
        self.stats: dict = {}

    def observe(self, rows):
        for r in rows:
            if r["problem_id"] not in self._first:
                self._first[r["problem_id"]] = {k: r.get(k) for k in ("problem_id", "question", "domain", "meta")}

    def settle(self):
        from skyt1.curation.difficulty import label_difficulty

        labelled, self.stats = label_difficulty(list(self._first.values()), self.rater, prompt=self.prompt,
                                                cache_path=self.cache_path, ledger=self.ledger)
        self.labels = {r["problem_id"]: (r["difficulty"], r["difficulty_source"]) for r in labelled}
        self._first = {}

    def __call__(self, rows):
        out = []
        for r in rows:
            value, source = self.labels[r["problem_id"]]
            out.append({**r, "difficulty": value, "difficulty_source": source})
        return out, []


class DifficultyFilter(Step):
    """``difficulty``: rows outside ``[lo, hi]``, unrated ones too, when a bound is set."""

    name = "difficulty"

    def __init__(self, lo: float | None, hi: float | None):
        super().__init__()
        self.lo, self.hi = lo, hi

    def __call__(self, rows):
        from skyt1.curation.difficulty import filter_difficulty

        if self.lo is None and self.hi is None:
            return rows, []
        return filter_difficulty(rows, self.lo, self.hi)


class Tokens(Step):
    """Attaches ``n_tokens``: tokens of the assistant turn (``formatted``) by ``counter``."""

    name, logged = "tokens", False

    def __init__(self, counter):
        super().__init__()
        self.counter = counter

    def __call__(self, rows):
        counts = self.counter.count([str(r.get("formatted") or "") for r in rows])
        return [{**r, "n_tokens": n} for r, n in zip(rows, counts, strict=True)], []


class Length(Step):
    """``length``: ``too_short:<n>`` / ``too_long:<n>`` by ``n_tokens``. Memory: none."""

    name = "length"

    def __init__(self, lo: int | None, hi: int | None):
        super().__init__()
        self.lo, self.hi = lo, hi

    def __call__(self, rows):
        from skyt1.curation.stats import filter_length

        return filter_length(rows, [r["n_tokens"] for r in rows], self.lo, self.hi)


class _Stub:
    """What the mixture needs of a row, in 64 bytes (its strings interned: shared across rows)."""

    __slots__ = ("problem_id", "index", "task", "domain")

    def __init__(self, r: dict):
        for k in self.__slots__:
            v = r.get(k)
            setattr(self, k, sys.intern(v) if type(v) is str else v)

    def get(self, key: str, default=None):
        return getattr(self, key) if key in self.__slots__ else default


class Mixture(Step):
    """``mixture`` (``curation.mixture.mix``) over stubs of the rows reaching it (problem id,
    index, task, domain: about 70 bytes a row during the preparation pass, its strings
    interned), then one entry per dropped row."""

    name, needs_pass = "mixture", True

    def __init__(self, targets: dict, by: str, unit: str, total: int | None, seed: int):
        super().__init__()
        self.args = {"targets": targets, "by": by, "unit": unit, "total": total, "seed": seed}
        self._stubs: list[_Stub] = []
        self._drops: dict[int, str] = {}
        self.targets: dict = {}

    def observe(self, rows):
        self._stubs += [_Stub(r) for r in rows]

    def settle(self):
        from skyt1.curation.mixture import mix_reasons

        a = self.args
        self._drops, self.targets = mix_reasons(self._stubs, a["targets"], by=a["by"], unit=a["unit"],
                                                total=a["total"], seed=a["seed"])
        self._stubs = []

    def report(self) -> dict:
        return {"targets": self.targets}

    def __call__(self, rows):
        start, self._n = self._n, self._n + len(rows)
        kept, dropped = [], []
        for i, r in enumerate(rows):
            why = self._drops.get(start + i)
            (kept.append(r) if why is None else dropped.append({**r, "drop_reason": why}))
        return kept, dropped

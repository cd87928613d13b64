"""Benchmark decontamination of training problems.

Contracts:

- ``Decontaminator(benchmarks, ngram=8, fuzzy_threshold=0.75, min_overlap=0.0)``:
  ``benchmarks`` maps a benchmark name to its problems (dicts with ``id`` and ``question``).
- ``.check(question) -> None | {"benchmark", "benchmark_id", "method", "overlap"}``, with
  ``method`` one of ``"exact"``, ``"ngram"``, ``"fuzzy"``; ``overlap`` is the shared text
  (exact, ngram) or the similarity score (fuzzy); an ``ngram`` hit adds ``fraction``.
- ``decontaminate(items, decon, key="question") -> (kept, removed)``; removed items are copies
  with ``drop_reason="contaminated:<benchmark>"`` and ``contamination`` = the check dict.
- ``default_benchmarks(["math500", "gsm8k:test", ...])``: the problems of skyt1 tasks, keyed
  by the spec as given; without ``:split`` a task's default (last) split is used. One that
  cannot be loaded (a hub-only benchmark offline) raises ``BenchmarkUnavailable``; none is
  skipped.

Checks, in order (the first hit is reported):

1. ``exact``: ``dedup.normalize`` of the question equals that of a benchmark question.
2. ``ngram``: any shared word ``ngram``-gram (default 8) after open-r1's / s1's normalisation
   (lowercase, strip, collapse whitespace; ``scripts/decontaminate.py`` in huggingface/open-r1,
   ``data/decontaminate_util.py`` in simplescaling/s1), so every question they flag is flagged
   here too. The benchmark question sharing the most n-grams is reported. ``min_overlap`` > 0
   (opt-in, not upstream) asks for more: the shared n-grams must be at least that fraction of
   the shorter question's n-grams. Contest boilerplate shares a few 8-grams with many unrelated
   problems ("where m and n are relatively prime positive integers. find m+n"); a copied
   problem shares most of them. Then, with ``same_numbers``, a question whose numbers
   contradict the benchmark question's (neither holds the other's: an excerpt or a wrapper
   does not contradict) also needs ``numbers_overlap`` (default 0.6) of its n-grams
   shared: "y varies inversely as sqrt x, and when x=2, y=4" is not the benchmark's "... when
   x=24, y=15" (0.36 shared), while a copy with one digit changed shares about 0.8 and is
   still caught. ``benchmarks/bench_decontaminate.py`` measures the trade-off. A benchmark question
   shorter than ``ngram`` words has no n-grams upstream; here it is compared whole: it matches
   when its normalised word sequence occurs contiguously in the question.
3. ``fuzzy``: for questions and benchmark questions both at least ``ngram`` words long,
   MinHash LSH over character 5-grams of the normalised text proposes candidates
   (``lsh_threshold``), and ``difflib.SequenceMatcher.ratio`` over the normalised *words*
   >= ``fuzzy_threshold`` confirms one (word-level: a character-level ratio is thrown off by
   repeated phrases). This catches rewordings that touch every 8-word window: a filler word
   every 5 words, or every 6th word replaced, scores 0.72-1.0 on MATH-500, while the best
   score of any GSM8K train question against MATH-500 is about 0.36. Short questions are left to the
   exact checks on purpose: "What is 3 + 4?" and "What is 4 + 3?" differ by a few characters but
   are different problems. With ``same_numbers`` (the default), as in ``dedup.dedup_near``, a
   fuzzy match also needs the same numbers: "the remainder when 2007 is divided by 25" and
   another remainder problem share a template, not a problem. The MinHash signatures are
   ``dedup.signature`` (numpy, permutations built once), banded as datasketch's ``MinHashLSH``
   would band them at ``lsh_threshold`` (``dedup.optimal_bands``).
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict

import numpy as np

from skyt1.curation.dedup import Bands, _numbers, normalize, optimal_bands, signature

__all__ = ["BenchmarkUnavailable", "Decontaminator", "decontaminate", "default_benchmarks", "upstream_normalize",
           "word_ngrams"]


def _contradict(a: list[str], b: list[str]) -> bool:
    """Whether neither list of numbers holds the other (an excerpt or a wrapper is not a contradiction)."""
    ca, cb = Counter(a), Counter(b)
    return bool(ca - cb) and bool(cb - ca)


def upstream_normalize(text: str) -> str:
    """open-r1 / s1 ``normalize_string``: lowercase, strip, collapse whitespace."""
    return " ".join(text.lower().strip().split())


def word_ngrams(text: str, n: int) -> list[str]:
    """open-r1 / s1 ``word_ngrams``: the space-joined word n-grams of ``text``."""
    words = text.split()
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


class Decontaminator:
    """An index of benchmark questions; ``check`` tells whether a question overlaps one."""

    def __init__(
        self,
        benchmarks: dict[str, list[dict]],
        ngram: int = 8,
        fuzzy_threshold: float = 0.75,
        min_overlap: float = 0.0,
        *,
        lsh_threshold: float = 0.3,
        num_perm: int = 128,
        seed: int = 1,
        same_numbers: bool = True,
        numbers_overlap: float = 0.6,
    ):
        if not 0.0 <= min_overlap <= 1.0:
            raise ValueError(f"min_overlap must be within [0, 1], got {min_overlap}")
        self.ngram, self.fuzzy_threshold, self.min_overlap = ngram, fuzzy_threshold, min_overlap
        self.same_numbers, self.numbers_overlap = same_numbers, numbers_overlap
        self._n_grams: list[int] = []  # distinct n-grams of each benchmark question
        self._mh_args = {"num_perm": num_perm, "ngram": 5, "unit": "char", "seed": seed}
        self.docs: list[tuple[str, str, str]] = []  # (benchmark, id, normalised question)
        self._exact: dict[str, int] = {}
        self._ngrams: dict[str, list[int]] = defaultdict(list)
        self._short: list[int] = []
        self._sigs: dict[int, np.ndarray] = {}
        self._nums: dict[int, list[str]] = {}
        self._lsh = Bands(*optimal_bands(lsh_threshold, num_perm))
        for bench, problems in benchmarks.items():
            for pos, p in enumerate(problems):
                q = str(p.get("question", ""))
                doc = len(self.docs)
                self.docs.append((bench, str(p.get("id", f"{bench}/{pos}")), normalize(q)))
                self._exact.setdefault(self.docs[doc][2], doc)
                grams = word_ngrams(upstream_normalize(q), ngram)
                self._n_grams.append(len(set(grams)))
                for g in dict.fromkeys(grams):
                    self._ngrams[g].append(doc)
                if not grams:
                    if len(self.docs[doc][2].split()) >= 2:
                        self._short.append(doc)
                else:
                    self._sigs[doc] = signature(q, **self._mh_args)
                    self._nums[doc] = _numbers(q)
                    self._lsh.add(doc, self._sigs[doc])

    def _hit(self, doc: int, method: str, overlap) -> dict:
        bench, bid, _ = self.docs[doc]
        return {"benchmark": bench, "benchmark_id": bid, "method": method, "overlap": overlap}

    def check(self, question: str) -> dict | None:
        """None when ``question`` is clean, else where and how it overlaps a benchmark."""
        norm = normalize(question)
        if norm in self._exact:
            return self._hit(self._exact[norm], "exact", norm)
        counts: dict[int, int] = defaultdict(int)
        first: dict[int, str] = {}
        grams = dict.fromkeys(word_ngrams(upstream_normalize(question), self.ngram))
        for g in grams:
            for doc in self._ngrams.get(g, ()):
                counts[doc] += 1
                first.setdefault(doc, g)
        if counts:
            doc = min(counts, key=lambda d: (-counts[d], d))
            fraction = counts[doc] / min(len(grams), self._n_grams[doc])
            renumbered = self.min_overlap > 0 and self.same_numbers and fraction < self.numbers_overlap and (
                _contradict(_numbers(norm, normalized=True), self._nums[doc]))
            if fraction >= self.min_overlap and not renumbered:
                return {**self._hit(doc, "ngram", first[doc]), "fraction": round(fraction, 4)}
        padded = f" {norm} "
        for doc in self._short:
            if f" {self.docs[doc][2]} " in padded:
                return self._hit(doc, "ngram", self.docs[doc][2])
        if len(upstream_normalize(question).split()) < self.ngram:
            return None
        best, best_score, words, nums = None, 0.0, norm.split(), _numbers(norm, normalized=True)
        for doc in self._lsh.query(signature(norm, **self._mh_args, normalized=True)):
            if self.same_numbers and nums != self._nums[doc]:
                continue  # a shared template with other numbers is another problem
            score = difflib.SequenceMatcher(None, words, self.docs[doc][2].split(), autojunk=False).ratio()
            if score >= self.fuzzy_threshold and score > best_score:
                best, best_score = doc, score
        return None if best is None else self._hit(best, "fuzzy", round(best_score, 4))


def decontaminate(items: list[dict], decon: Decontaminator, key: str = "question") -> tuple[list[dict], list[dict]]:
    """Split ``items`` into (kept, removed) by ``decon.check(item[key])``; order is preserved."""
    kept, removed = [], []
    for item in items:
        hit = decon.check(str(item.get(key, "")))
        if hit is None:
            kept.append(item)
        else:
            removed.append({**item, "drop_reason": f"contaminated:{hit['benchmark']}", "contamination": hit})
    return kept, removed


class BenchmarkUnavailable(ValueError):
    """A benchmark named for decontamination could not be loaded (a hub-only one offline, a gated
    one without a token). Decontamination never skips a benchmark it was asked for."""


def default_benchmarks(names: list[str] | tuple[str, ...] | str) -> dict[str, list[dict]]:
    """Problems of skyt1 tasks by spec (``"math500"``, ``"gsm8k:test"``), keyed by the spec.

    A benchmark that cannot be loaded (hub-only ones such as ``gpqa_diamond`` and
    ``livecodebench`` need the hub, GPQA also ``HF_TOKEN``) raises ``BenchmarkUnavailable``
    naming it and why, instead of being left out: a training set is never called decontaminated
    against a benchmark it was not compared with. An unknown task is a ``KeyError``."""
    from skyt1.tasks import get_task

    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    out: dict[str, list[dict]] = {}
    for spec in names:
        name, _, split = spec.strip().partition(":")
        task = get_task(name)
        try:
            out[spec.strip()] = task.problems(split or None)
        except (RuntimeError, OSError) as e:  # offline, gated, a failed download
            raise BenchmarkUnavailable(
                f"curate.decontaminate: benchmark {spec.strip()!r} cannot be loaded ({task.source}): {e}. "
                "Decontamination does not skip it: make it loadable, or remove it from curate.decontaminate"
            ) from e
    return out

"""Scores from verdicts: accuracy (avg@n), pass@k, maj@n, uncertainty and token statistics.

- ``accuracy`` is the mean over problems of each problem's fraction of correct samples: the
  "pass@1 averaged over n samples" that DeepSeek-R1 (arXiv:2501.12948, sec. 3.1) and Sky-T1
  report. Every problem weighs the same, however many samples it has.
- ``stderr`` is the standard error of that mean across problems (sample standard deviation of
  the per-problem accuracies over sqrt(#problems)); ``ci95`` is the Wilson score interval
  (``wilson_interval``) at the number of problems. It measures problem-sampling noise, the
  uncertainty that matters when comparing with a published number on the same benchmark. Unlike
  the normal interval (accuracy +- 1.96 stderr) it keeps its coverage on small benchmarks and
  near 0% or 100% (30 AIME problems all wrong give [0%, 11.4%], not [0%, 0%]; Brown, Cai and
  DasGupta 2001, "Interval Estimation for a Binomial Proportion", Statist. Sci. 16(2)). With one
  sample per problem it is the textbook Wilson interval; with n samples per problem the
  per-problem accuracies lie in [0, 1], whose variance is at most p(1-p), so it is conservative.
- ``paired_comparison`` compares two models on the same problems: which problems one solved and
  the other did not, the exact McNemar test on those discordant problems, and a paired bootstrap
  interval of the accuracy difference.
- ``pass@k`` is the unbiased estimator of Chen et al. (2021, arXiv:2107.03374, sec. 2.1),
  averaged over problems, for each requested k no larger than the fewest samples of a problem.
- ``maj@n`` is majority voting (self-consistency, Wang et al. 2022) over the extracted answers.
"""

from __future__ import annotations

import math
import statistics
from array import array
from collections.abc import Callable, Iterable

__all__ = ["Z95", "mcnemar_exact", "mean_interval", "paired_comparison", "pass_at_k", "Scores", "summarize",
           "Tally", "wilson_interval"]

BREAKDOWN_KEYS = ("level", "difficulty", "subject")
Z95 = 1.96  # the two-sided 95% normal quantile, as in the papers whose intervals we sit beside


def wilson_interval(p: float, n: float, z: float = Z95) -> list[float]:
    """The Wilson score interval ``[lo, hi]`` (inside [0, 1]) of a proportion ``p`` seen over ``n``
    trials (E. B. Wilson 1927, JASA 22:209): the ``p0`` with ``|p - p0| <= z sqrt(p0 (1 - p0) / n)``.
    ``n`` may be an effective, non-integer sample size; ``n <= 0`` gives ``[0, 1]``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"a proportion is in [0, 1], got {p}")
    if n <= 0:
        return [0.0, 1.0]
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def mean_interval(values: list[float]) -> tuple[float | None, float | None, list[float] | None]:
    """``(mean, stderr, ci95)`` of per-problem scores in [0, 1]: the one interval every score in
    skyt1 carries (``summarize``, the scaling points); ``ci95`` is ``wilson_interval(mean, len)``."""
    if not values:
        return None, None, None
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, se, wilson_interval(min(1.0, max(0.0, mean)), len(values))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n samples, c of
    them correct, is correct: ``1 - C(n-c, k) / C(n, k)``, computed as the stable product
    ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (Chen et al., 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def _vote(answers: list[str], votes: list[int], equivalent: Callable[[str, str], bool] | None,
          classes: dict[str, int] | None = None) -> bool:
    """Majority vote over one problem's extracted answers (answered sample ``i`` gave
    ``answers[votes[i] >> 1]``, right when ``votes[i] & 1``); groups keep first-seen order, so a tie goes to
    the answer seen first. The problem counts correct if most of the winning group's samples are
    correct (a tie there goes to its first sample). No answer at all counts wrong. ``classes``
    (answer -> class id, from ``skyt1.verifiers.vote``) replaces ``equivalent`` when given."""
    if classes is not None:
        def equivalent(a: str, b: str) -> bool:
            return classes.get(a, a) == classes.get(b, b)
    groups: list[list[int]] = []
    for i, vote in enumerate(votes):
        answer = answers[vote >> 1]
        for g in groups:
            rep = answers[votes[g[0]] >> 1]
            if equivalent(rep, answer) if equivalent else rep == answer:
                g.append(i)
                break
        else:
            groups.append([i])
    if not groups:
        return False
    best = max(groups, key=len)  # max keeps the first of equal-sized groups
    right = sum(votes[i] & 1 for i in best)
    return right * 2 > len(best) or (right * 2 == len(best) and bool(votes[best[0]] & 1))


def _natural(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _token_stats(values) -> dict:
    if not values:
        return {"mean": None, "median": None}
    return {"mean": statistics.fmean(values), "median": float(statistics.median(values))}


_UNSEEN = object()


class _Problem:
    __slots__ = ("n", "right", "answers", "votes", "meta")

    def __init__(self) -> None:
        self.n = self.right = 0
        self.answers: list[str] = []  # distinct stripped answers, first seen first
        self.votes: list[int] = []  # per answered sample: its answer's index in ``answers`` * 2 + correct
        self.meta: tuple | None = None  # per BREAKDOWN_KEYS: the first value seen (_UNSEEN: none yet)

    def breakdown(self, key: str):
        value = _UNSEEN if self.meta is None else self.meta[BREAKDOWN_KEYS.index(key)]
        return None if value is _UNSEEN else value


class Tally:
    """What ``summarize`` needs of verdict rows, gathered one row at a time (``add``), so a stage can
    summarise a file it streams. Memory: per problem two counters, its distinct extracted answers, one
    small int per answered sample and its breakdown values (never the texts), and 8 to 16 bytes a row
    for the token statistics: about 180 bytes a row in all with 4 samples a problem (measured on
    ``bench_scale``'s verdicts). Tallies of parts of the problems merge with ``Scores``."""

    def __init__(self, verdicts: Iterable[dict] = ()) -> None:
        self.problems: dict[str, _Problem] = {}
        self.tokens = {"all": array("d"), "correct": array("d"), "incorrect": array("d")}
        self.samples = self.truncated = 0
        for v in verdicts:
            self.add(v)

    def add(self, v: dict, problem_id=None) -> None:
        """Count verdict row ``v`` (of ``problem_id``, default its ``problem_id`` field)."""
        pid = v["problem_id"] if problem_id is None else problem_id
        p = self.problems.get(pid)
        if p is None:
            p = self.problems[pid] = _Problem()
        ok = bool(v.get("correct"))
        p.n, p.right, self.samples = p.n + 1, p.right + ok, self.samples + 1
        answer = v.get("extracted")
        if answer is not None and (answer := str(answer).strip()):
            if answer not in p.answers:
                p.answers.append(answer)
            p.votes.append(p.answers.index(answer) * 2 + ok)
        meta = v.get("meta")
        if isinstance(meta, dict) and (p.meta is None or _UNSEEN in p.meta):
            old = p.meta or (_UNSEEN,) * len(BREAKDOWN_KEYS)
            p.meta = tuple(meta.get(k, _UNSEEN) if seen is _UNSEEN else seen for k, seen in zip(BREAKDOWN_KEYS, old))
        if (tokens := (v.get("usage") or {}).get("completion_tokens")) is not None:
            self.tokens["all"].append(float(tokens))
            self.tokens["correct" if ok else "incorrect"].append(float(tokens))
        self.truncated += v.get("finish_reason") == "length"

    @staticmethod
    def fields(v: dict, problem_id=None) -> dict:
        """What ``add`` reads of verdict row ``v``, and nothing else: ``add(fields(v))`` counts as ``add(v)``,
        for a caller that keeps rows to tally later (``stages.score`` spills them by problem)."""
        slim = {"problem_id": v["problem_id"] if problem_id is None else problem_id, "correct": v.get("correct"),
                "extracted": v.get("extracted"), "finish_reason": v.get("finish_reason"),
                "usage": {"completion_tokens": (v.get("usage") or {}).get("completion_tokens")}}
        if isinstance(meta := v.get("meta"), dict):
            slim["meta"] = {k: meta[k] for k in BREAKDOWN_KEYS if k in meta}
        return slim

    def distinct_answers(self, decided: bool = True) -> dict[str, list[str]]:
        """``{problem_id: [distinct stripped answers]}``, what ``verifiers.vote`` groups. ``decided=False``
        leaves out the problems whose maj@n no grouping can change: every answered sample correct (the
        winning group is right) or every one wrong (it is wrong)."""
        return {pid: p.answers for pid, p in self.problems.items()
                if len(p.answers) > 1 and (decided or 0 < sum(v & 1 for v in p.votes) < len(p.votes))}

    def summary(self, ks: tuple[int, ...] = (1,), equivalent: Callable[[str, str], bool] | None = None,
                vote_classes: dict[str, dict[str, int]] | None = None) -> dict:
        """``summarize``'s result for the rows added so far."""
        return Scores(ks).add(self, equivalent, vote_classes).summary()


class Scores:
    """The per-problem scores of tallies over disjoint sets of problems, merged (``add``) into the
    summary ``Tally.summary`` gives for all of them at once, so a caller can tally problems part by
    part and drop each part once added (``stages.score``). Every mean is order-free (``fmean`` and
    ``stdev`` sum exactly), so the parts give the numbers one tally would. Memory: 8 bytes a problem
    per score (its accuracy, each pass@k, each breakdown value) plus the tallies' token series."""

    def __init__(self, ks: Iterable[int] = (1,)) -> None:
        self.ks = tuple(ks)
        self.means = array("d")
        self.passes = {k: array("d") for k in self.ks if k >= 1}
        self.fewest, self.most, self.majority = 0, 0, 0
        self.by: dict[str, dict[str, array]] = {key: {} for key in BREAKDOWN_KEYS}
        self.tokens = {"all": array("d"), "correct": array("d"), "incorrect": array("d")}
        self.samples = self.truncated = 0

    def add(self, tally: Tally, equivalent: Callable[[str, str], bool] | None = None,
            vote_classes: dict[str, dict[str, int]] | None = None) -> Scores:
        """Score ``tally``'s problems (none of them added before); maj@n as in ``summarize``."""
        classes = vote_classes or {}
        for pid, p in tally.problems.items():
            mean = p.right / p.n
            self.fewest = p.n if not self.means else min(self.fewest, p.n)
            self.most = max(self.most, p.n)
            self.means.append(mean)
            for k, values in self.passes.items():
                if k <= p.n:
                    values.append(pass_at_k(p.n, p.right, k))
            self.majority += _vote(p.answers, p.votes, equivalent,
                                   None if vote_classes is None else classes.get(pid, {}))
            for key in BREAKDOWN_KEYS:
                if (value := p.breakdown(key)) is not None:
                    self.by[key].setdefault(str(value), array("d")).append(mean)
        for name, values in tally.tokens.items():
            self.tokens[name].extend(values)
        self.samples += tally.samples
        self.truncated += tally.truncated
        return self

    def summary(self) -> dict:
        """``summarize``'s result for the problems added so far."""
        means = self.means
        accuracy, stderr, ci95 = mean_interval(means)
        out: dict = {"n_problems": len(means), "n_samples": self.samples,
                     "samples_per_problem": {"min": self.fewest, "max": self.most},
                     "accuracy": accuracy, "stderr": stderr, "ci95": ci95}
        for k in self.ks:
            if 1 <= k <= self.fewest:
                out[f"pass@{k}"] = statistics.fmean(self.passes[k])
        out["maj@n"] = self.majority / len(means) if means else None
        out["completion_tokens"] = {name: _token_stats(values) for name, values in self.tokens.items()}
        out["truncated"] = {"n": self.truncated, "fraction": self.truncated / self.samples if self.samples else None}
        out["by"] = {}
        for key in BREAKDOWN_KEYS:
            if groups := self.by[key]:
                out["by"][key] = {
                    value: {"accuracy": statistics.fmean(ms), "n": len(ms)}
                    for value, ms in sorted(groups.items(), key=lambda kv: _natural(kv[0]))
                }
        return out


def summarize(
    verdicts: Iterable[dict],
    ks: tuple[int, ...] = (1,),
    equivalent: Callable[[str, str], bool] | None = None,
    vote_classes: dict[str, dict[str, int]] | None = None,
) -> dict:
    """Summary of verdict rows (``problem_id``, ``correct``, ``extracted``, ``finish_reason``,
    ``usage.completion_tokens``, optional ``meta``), read once (see ``Tally``). See the module
    docstring for each number. maj@n groups answers by ``vote_classes[problem_id]`` when given
    (computed in the verifier workers, ``skyt1.verifiers.vote``), else by ``equivalent``, else as
    strings."""
    return Tally(verdicts).summary(ks, equivalent, vote_classes)


def _per_problem(verdicts: list[dict]) -> dict[str, float]:
    rows: dict[str, list[bool]] = {}
    for v in verdicts:
        rows.setdefault(str(v["problem_id"]), []).append(bool(v.get("correct")))
    return {pid: sum(c) / len(c) for pid, c in rows.items()}


def mcnemar_exact(fixed: int, broke: int) -> float:
    """Two-sided exact McNemar p-value: under "no difference" each of the ``fixed + broke``
    discordant problems is a fair coin, so ``p = min(1, 2 P(X <= min(fixed, broke)))``,
    X ~ Binomial(fixed + broke, 1/2) (McNemar 1947; the exact form of Fay 2010, R exact2x2)."""
    n = fixed + broke
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(fixed, broke) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def paired_comparison(base: list[dict], other: list[dict], *, resamples: int = 10_000, seed: int = 0) -> dict:
    """Compare two models' verdicts (``problem_id``, ``correct``) on the problems both answered.

    A problem counts solved when more than half of its samples are correct (with one sample: that
    sample). ``fixed`` = solved by ``other`` only, ``broke`` = solved by ``base`` only (sorted ids);
    ``mcnemar_p`` is the exact McNemar p-value on those. ``difference`` is the mean per-problem
    accuracy (avg@n) of ``other`` minus ``base``, with ``difference_ci95``: the percentile interval
    of ``resamples`` paired bootstrap resamples of the problems (Efron & Tibshirani 1993, ch. 13),
    seeded, so the report is reproducible.
    """
    import numpy as np

    a, b = _per_problem(base), _per_problem(other)
    common = sorted(set(a) & set(b))
    fixed = [p for p in common if a[p] <= 0.5 < b[p]]
    broke = [p for p in common if b[p] <= 0.5 < a[p]]
    out = {"n_problems": len(common), "fixed": fixed, "broke": broke,
           "both_solved": sum(a[p] > 0.5 and b[p] > 0.5 for p in common),
           "neither_solved": sum(a[p] <= 0.5 and b[p] <= 0.5 for p in common),
           "mcnemar_p": mcnemar_exact(len(fixed), len(broke)), "difference": None, "difference_ci95": None}
    if common:
        d = np.array([b[p] - a[p] for p in common])
        idx = np.random.default_rng(seed).integers(0, len(d), size=(resamples, len(d)))
        means = d[idx].mean(axis=1)
        out["difference"] = float(d.mean())
        out["difference_ci95"] = [float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))]
    return out

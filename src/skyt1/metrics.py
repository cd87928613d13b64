"""Scores from verdicts: accuracy (avg@n), pass@k, maj@n, uncertainty and token statistics.

- ``accuracy`` is the mean over problems of each problem's fraction of correct samples: the
  "pass@1 averaged over n samples" that DeepSeek-R1 (arXiv:2501.12948, sec. 3.1) and Sky-T1
  report. Every problem weighs the same, however many samples it has.
- ``stderr`` is the standard error of that mean across problems (sample standard deviation of
  the per-problem accuracies over sqrt(#problems)); ``ci95`` is the normal interval
  accuracy +- 1.96 stderr, clipped to [0, 1]. It measures problem-sampling noise, the
  uncertainty that matters when comparing with a published number on the same benchmark.
- ``pass@k`` is the unbiased estimator of Chen et al. (2021, arXiv:2107.03374, sec. 2.1),
  averaged over problems, for each requested k no larger than the fewest samples of a problem.
- ``maj@n`` is majority voting (self-consistency, Wang et al. 2022) over the extracted answers.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

__all__ = ["pass_at_k", "summarize"]

BREAKDOWN_KEYS = ("level", "difficulty", "subject")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n samples, c of
    them correct, is correct: ``1 - C(n-c, k) / C(n, k)``, computed as the stable product
    ``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (Chen et al., 2021)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def _vote(samples: list[dict], equivalent: Callable[[str, str], bool] | None,
          classes: dict[str, int] | None = None) -> bool:
    """Majority vote over extracted answers; groups keep first-seen order, so a tie goes to the
    answer seen first. The problem counts correct if most of the winning group's samples are
    correct (a tie there goes to its first sample). No answer at all counts wrong. ``classes``
    (answer -> class id, from ``skyt1.verifiers.vote``) replaces ``equivalent`` when given."""
    if classes is not None:
        def equivalent(a: str, b: str) -> bool:
            return classes.get(a, a) == classes.get(b, b)
    groups: list[list[dict]] = []
    for s in samples:
        answer = s.get("extracted")
        if answer is None or str(answer).strip() == "":
            continue
        answer = str(answer).strip()
        for g in groups:
            rep = str(g[0]["extracted"]).strip()
            if equivalent(rep, answer) if equivalent else rep == answer:
                g.append(s)
                break
        else:
            groups.append([s])
    if not groups:
        return False
    best = max(groups, key=len)  # max keeps the first of equal-sized groups
    right = sum(bool(s.get("correct")) for s in best)
    return right * 2 > len(best) or (right * 2 == len(best) and bool(best[0].get("correct")))


def _natural(value: str) -> tuple:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def _token_stats(values: list[float]) -> dict:
    if not values:
        return {"mean": None, "median": None}
    return {"mean": statistics.fmean(values), "median": float(statistics.median(values))}


def summarize(
    verdicts: list[dict],
    ks: tuple[int, ...] = (1,),
    equivalent: Callable[[str, str], bool] | None = None,
    vote_classes: dict[str, dict[str, int]] | None = None,
) -> dict:
    """Summary of verdict rows (``problem_id``, ``correct``, ``extracted``, ``finish_reason``,
    ``usage.completion_tokens``, optional ``meta``). See the module docstring for each number.
    maj@n groups answers by ``vote_classes[problem_id]`` when given (computed in the verifier
    workers, ``skyt1.verifiers.vote``), else by ``equivalent``, else as strings."""
    by_problem: dict[str, list[dict]] = {}
    for v in verdicts:
        by_problem.setdefault(v["problem_id"], []).append(v)
    n_problems = len(by_problem)
    means = [sum(bool(s.get("correct")) for s in ss) / len(ss) for ss in by_problem.values()]

    accuracy = statistics.fmean(means) if means else None
    stderr = statistics.stdev(means) / math.sqrt(n_problems) if n_problems > 1 else (0.0 if means else None)
    ci95 = [max(0.0, accuracy - 1.96 * stderr), min(1.0, accuracy + 1.96 * stderr)] if means else None

    out: dict = {
        "n_problems": n_problems,
        "n_samples": len(verdicts),
        "samples_per_problem": {
            "min": min(map(len, by_problem.values()), default=0),
            "max": max(map(len, by_problem.values()), default=0),
        },
        "accuracy": accuracy,
        "stderr": stderr,
        "ci95": ci95,
    }
    fewest = out["samples_per_problem"]["min"]
    for k in ks:
        if 1 <= k <= fewest:
            out[f"pass@{k}"] = statistics.fmean(
                pass_at_k(len(ss), sum(bool(s.get("correct")) for s in ss), k) for ss in by_problem.values()
            )
    out["maj@n"] = statistics.fmean(
        _vote(ss, equivalent, None if vote_classes is None else vote_classes.get(pid, {}))
        for pid, ss in by_problem.items()
    ) if means else None

    def tokens(rows):
        return [
            float(r["usage"]["completion_tokens"])
            for r in rows
            if (r.get("usage") or {}).get("completion_tokens") is not None
        ]

    truncated = sum(v.get("finish_reason") == "length" for v in verdicts)
    out["completion_tokens"] = {
        "all": _token_stats(tokens(verdicts)),
        "correct": _token_stats(tokens([v for v in verdicts if v.get("correct")])),
        "incorrect": _token_stats(tokens([v for v in verdicts if not v.get("correct")])),
    }
    out["truncated"] = {"n": truncated, "fraction": truncated / len(verdicts) if verdicts else None}

    out["by"] = {}
    for key in BREAKDOWN_KEYS:
        groups: dict[str, list[float]] = {}
        for mean, ss in zip(means, by_problem.values()):
            meta = next((s["meta"] for s in ss if isinstance(s.get("meta"), dict) and key in s["meta"]), None)
            if meta is not None and meta[key] is not None:
                groups.setdefault(str(meta[key]), []).append(mean)
        if groups:
            out["by"][key] = {
                value: {"accuracy": statistics.fmean(ms), "n": len(ms)}
                for value, ms in sorted(groups.items(), key=lambda kv: _natural(kv[0]))
            }
    return out

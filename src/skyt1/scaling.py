"""Test-time scaling: budget forcing (s1) and self-consistency, and the points of an
accuracy-against-tokens curve.

**Budget forcing** (Muennighoff et al. 2025, "s1: Simple test-time scaling", arXiv:2501.19393,
sec. 3.1; the authors' lm-evaluation-harness fork, ``thinking_n_ignore``) controls how long a
model thinks, with nothing but the backend protocol's ``Request.prefill`` (the assistant turn is
continued, not repeated):

1. *think*: generate with ``max_tokens`` = the thinking budget, stopping at the
   end-of-thinking delimiter (``</think>``, Sky-T1's ``<|end_of_thought|>``, ...) or at EOS;
2. *suppress the end* (``wait_times`` k > 0): when the model stops before the budget is spent,
   drop the delimiter, append "Wait" and continue from there with the budget that is left, up
   to k times;
3. *force the answer*: append the delimiter (after a newline when the budget ran out, as s1
   does) and an answer prefix (s1 appends "Final Answer:" when it cuts the thinking short), and
   generate the answer with its own token limit.

The thinking never exceeds the budget: each continuation gets only the tokens left. The
completion's ``text`` is everything after the request's own prefill (thinking, "Wait"s,
delimiter, prefix and answer), so a verifier sees the whole assistant turn;
``completion_tokens`` counts every generated token (thinking + answer), ``prompt_tokens`` every
prompt token processed across the calls (what an API bills), and ``extra["budget_forcing"]``
says how the tokens were spent.

**Self-consistency** (Wang et al. 2022, arXiv:2203.11171) is majority voting over n sampled
answers; ``self_consistency_points`` scores maj@n for growing n on the first n samples of each
problem, so one generation run at the largest n gives the whole curve.

A *point* is ``{"method", "tokens", "accuracy", "ci95", ...}`` where ``tokens`` is the mean
number of completion tokens spent per final answer (per sample for budget forcing, per problem
over its n votes for self-consistency).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from typing import Literal

from skyt1.backends.base import Backend, Completion, Request, SamplingParams
from skyt1.metrics import mean_interval  # re-exported: the one interval of every score

__all__ = [
    "BudgetForcedBackend",
    "Forcing",
    "budget_force",
    "budget_point",
    "end_thinking",
    "mean_interval",
    "self_consistency_points",
]


@dataclass(frozen=True)
class Forcing:
    """One budget-forcing setting (see the module docstring)."""

    max_thinking_tokens: int
    wait_times: int = 0
    end_think: str = "</think>"
    think_start: str = ""  # text the thinking starts with (e.g. "<think>\n" where the template lacks it)
    wait: str = "Wait"
    answer_prefix: str = "\nFinal Answer:"
    prefix_on: Literal["always", "forced"] = "always"  # s1 appends the prefix only when the budget ran out
    answer_max_tokens: int | None = None  # None: the request's sampling max_tokens

    def __post_init__(self) -> None:
        if self.max_thinking_tokens < 1 or self.wait_times < 0:
            raise ValueError(f"need max_thinking_tokens >= 1 and wait_times >= 0, got {self}")


def end_thinking(thinking: str, forcing: Forcing, forced: bool) -> str:
    """The prefill that ends the thinking and opens the answer: the thinking, a newline if the
    budget cut it mid-line, the delimiter and the answer prefix."""
    sep = "\n" if forced and thinking and not thinking.endswith("\n") else ""
    prefix = forcing.answer_prefix if forcing.prefix_on == "always" or forced else ""
    return thinking + sep + forcing.end_think + prefix


@dataclass
class _State:
    req: Request
    prefill: str
    spent: int = 0  # thinking tokens generated so far
    waits: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0
    forced: bool = False
    thinking_done: bool = False
    result: Completion | None = None

    def add(self, comp: Completion) -> None:
        self.calls += 1
        self.prompt_tokens += comp.prompt_tokens
        self.seconds += comp.seconds


def _round_seed(seed: int, round_: int) -> int:
    return (seed * 1_000_003 + round_) % (1 << 32) if round_ else seed


def _call(backend: Backend, states: list[_State], prefills: list[str], params: SamplingParams,
          round_: int) -> Iterator[tuple[_State, Completion]]:
    reqs = [Request(key=(i,), messages=s.req.messages, seed=_round_seed(s.req.seed, round_), prefill=p)
            for i, (s, p) in enumerate(zip(states, prefills))]
    for req, comp in backend.generate(reqs, params):
        yield states[req.key[0]], comp


def _error(s: _State, comp: Completion, forcing: Forcing) -> Completion:
    return Completion(text=s.prefill[len(s.req.prefill):] + comp.text, finish_reason="error",
                      prompt_tokens=s.prompt_tokens, completion_tokens=s.spent + comp.completion_tokens,
                      seconds=s.seconds, extra={**comp.extra, "budget_forcing": _stats(s, forcing, 0)})


def _stats(s: _State, forcing: Forcing, answer_tokens: int) -> dict:
    return {"max_thinking_tokens": forcing.max_thinking_tokens, "wait_times": forcing.wait_times,
            "thinking_tokens": s.spent, "answer_tokens": answer_tokens, "waits": s.waits,
            "forced": s.forced, "calls": s.calls}


def budget_force(backend: Backend, requests: Iterable[Request], params: SamplingParams, forcing: Forcing, *,
                 chunk: int = 64) -> Iterator[tuple[Request, Completion]]:
    """Yield ``(request, completion)`` for each request, budget-forced (module docstring).

    Requests go to ``backend`` in chunks of ``chunk``, each phase of a chunk as one batch (one
    batch per distinct remaining budget), and a chunk's completions are yielded when it is done,
    so a caller that writes each one at once loses at most a chunk to a crash.
    """
    reqs = list(requests)
    think_stop = tuple(dict.fromkeys((forcing.end_think, *params.stop)))
    answer_params = replace(params, max_tokens=forcing.answer_max_tokens or params.max_tokens)
    for start in range(0, len(reqs), chunk):
        states = [_State(r, r.prefill + forcing.think_start) for r in reqs[start : start + chunk]]
        round_ = 0
        while todo := [s for s in states if not s.thinking_done and s.result is None]:
            by_budget: dict[int, list[_State]] = {}
            for s in todo:
                by_budget.setdefault(forcing.max_thinking_tokens - s.spent, []).append(s)
            for left, group in sorted(by_budget.items()):
                think = replace(params, max_tokens=left, stop=think_stop)
                for s, comp in _call(backend, group, [s.prefill for s in group], think, round_):
                    s.add(comp)
                    if comp.finish_reason == "error":
                        s.result = _error(s, comp, forcing)
                        continue
                    s.spent += comp.completion_tokens
                    s.prefill += comp.text
                    if comp.finish_reason == "length" or s.spent >= forcing.max_thinking_tokens:
                        s.forced, s.thinking_done = comp.finish_reason == "length", True
                    elif s.waits < forcing.wait_times:
                        s.waits += 1  # the model tried to stop: suppress the delimiter, make it go on
                        s.prefill += forcing.wait
                    else:
                        s.thinking_done = True
            round_ += 1
        ready = [s for s in states if s.result is None]
        prefills = [end_thinking(s.prefill, forcing, s.forced) for s in ready]
        for s, comp in _call(backend, ready, prefills, answer_params, round_) if ready else ():
            s.add(comp)
            head = end_thinking(s.prefill, forcing, s.forced)[len(s.req.prefill):]
            s.result = Completion(text=head + comp.text, finish_reason=comp.finish_reason,
                                  prompt_tokens=s.prompt_tokens, completion_tokens=s.spent + comp.completion_tokens,
                                  seconds=s.seconds, reasoning=comp.reasoning,
                                  extra={**comp.extra, "budget_forcing": _stats(s, forcing, comp.completion_tokens)})
        for s in states:
            yield s.req, s.result


class BudgetForcedBackend:
    """A ``Backend`` that budget-forces every request through ``backend``, so any stage that takes
    a backend (``generate``, ``evaluate``) can use it. ``close`` leaves ``backend`` open: it
    belongs to the caller, who may force several budgets with it."""

    def __init__(self, backend: Backend, forcing: Forcing, *, chunk: int = 64) -> None:
        self.backend, self.forcing, self.chunk = backend, forcing, chunk
        self.model = backend.model

    def generate(self, requests: Iterable[Request], params: SamplingParams) -> Iterator[tuple[Request, Completion]]:
        return budget_force(self.backend, requests, params, self.forcing, chunk=self.chunk)

    def close(self) -> None:
        pass


def budget_point(summary: dict, forcing: Forcing) -> dict:
    """The point of one budget: accuracy (avg@n, with its interval) against mean tokens per sample."""
    return {"method": "budget_forcing", "tokens": summary["completion_tokens"]["all"]["mean"],
            "accuracy": summary["accuracy"], "ci95": summary["ci95"], "n_problems": summary["n_problems"],
            "n_samples": summary["n_samples"], "maj@n": summary.get("maj@n"), **asdict(forcing)}


def self_consistency_points(verdicts: list[dict], ns: Iterable[int],
                            summarize: Callable[[list[dict]], dict] | None = None) -> list[dict]:
    """maj@n for each n on the first n samples (by ``index``) of each problem, against the mean
    tokens spent per problem on those n samples. Problems with fewer than n samples are left out
    of that point; an n no problem reaches gives no point. ``summarize`` gives the ``maj@n`` of
    one problem's verdicts (default ``skyt1.metrics.summarize``, answers equal as strings; the
    evaluate stage passes ``summarize_verdicts``, which votes with math equivalence)."""
    if summarize is None:
        from skyt1.metrics import summarize

    by_problem: dict[str, list[dict]] = {}
    for v in verdicts:
        by_problem.setdefault(v["problem_id"], []).append(v)
    for rows in by_problem.values():
        rows.sort(key=lambda r: r.get("index", 0))
    points = []
    for n in sorted(set(ns)):
        if n < 1:
            raise ValueError(f"a vote needs n >= 1, got {n}")
        groups = [rows[:n] for rows in by_problem.values() if len(rows) >= n]
        if not groups:
            continue
        votes = [float(summarize(g)["maj@n"]) for g in groups]
        tokens = [sum((r.get("usage") or {}).get("completion_tokens") or 0 for r in g) for g in groups]
        acc, se, ci = mean_interval(votes)
        avg = statistics.fmean(sum(bool(r.get("correct")) for r in g) / n for g in groups)
        points.append({"method": "self_consistency", "n": n, "tokens": statistics.fmean(tokens), "accuracy": acc,
                       "stderr": se, "ci95": ci, "avg@n": avg, "n_problems": len(groups)})
    return points

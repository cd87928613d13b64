"""Budget forcing's control flow (prefills, "Wait" insertion, the budget, token accounting) on a
scripted backend, and the self-consistency points."""

from __future__ import annotations

import json

import pytest

from skyt1.backends.base import Completion, Request, SamplingParams
from skyt1.scaling import (
    BudgetForcedBackend,
    Forcing,
    budget_force,
    end_thinking,
    self_consistency_points,
)

END = "</think>"


class ScriptedThinker:
    """A backend that follows the protocol: a thinking call (one whose stops include the
    end-of-thinking delimiter) writes ``t`` tokens until it has written ``think`` of them in
    this call, then ends thinking (finish "stop", the delimiter cut and counted as one token);
    any other call answers "42" in 2 tokens. Every call is recorded."""

    model = "scripted"

    def __init__(self, think: int, prompt_tokens: int = 10, fail_on_call: int | None = None, end: str = END) -> None:
        self.think, self.prompt_tokens, self.fail_on_call, self.end = think, prompt_tokens, fail_on_call, end
        self.calls: list[tuple[list[Request], SamplingParams]] = []

    def generate(self, requests, params):
        reqs = list(requests)
        self.calls.append((reqs, params))
        for req in reversed(reqs):  # any order is allowed
            if self.fail_on_call == len(self.calls):
                yield req, Completion("", "error", self.prompt_tokens, 0, 0.5)
            elif self.end in params.stop:
                n = min(self.think, params.max_tokens)
                stopped = self.think < params.max_tokens  # room for the delimiter token
                yield req, Completion("t " * n, "stop" if stopped else "length", self.prompt_tokens,
                                      n + stopped, 0.5)
            else:
                yield req, Completion("42", "stop", self.prompt_tokens, 2, 0.25)

    def close(self):
        pass


def _one(backend, forcing, prefill="", params=None):
    params = params or SamplingParams(temperature=0.0, max_tokens=50)
    req = Request(key=("p", 0), messages=[{"role": "user", "content": "q"}], seed=7, prefill=prefill)
    [(got, comp)] = list(budget_force(backend, [req], params, forcing))
    assert got is req
    return comp


def test_budget_cuts_the_thinking_and_forces_the_answer():
    backend = ScriptedThinker(think=10)
    comp = _one(backend, Forcing(max_thinking_tokens=4))
    (_, think_params), (answer_reqs, answer_params) = backend.calls
    assert think_params.max_tokens == 4 and END in think_params.stop
    assert answer_params.max_tokens == 50 and END not in answer_params.stop
    # s1: a newline before the delimiter when the budget cut the thinking mid-line, then the prefix
    assert answer_reqs[0].prefill == "t t t t \n</think>\nFinal Answer:"
    assert comp.text == "t t t t \n</think>\nFinal Answer:42"
    assert comp.finish_reason == "stop"
    assert comp.completion_tokens == 4 + 2 and comp.prompt_tokens == 20 and comp.seconds == 0.75
    assert comp.extra["budget_forcing"] == {"max_thinking_tokens": 4, "wait_times": 0, "thinking_tokens": 4,
                                            "answer_tokens": 2, "waits": 0, "forced": True, "calls": 2}


def test_wait_is_appended_when_thinking_ends_early_up_to_k_times():
    backend = ScriptedThinker(think=3)
    comp = _one(backend, Forcing(max_thinking_tokens=20, wait_times=2))
    thinking = [c for c in backend.calls if END in c[1].stop]
    assert [p.max_tokens for _, p in thinking] == [20, 16, 12]  # each continuation gets only what is left
    assert [r[0].prefill for r, _ in thinking] == ["", "t t t Wait", "t t t Waitt t t Wait"]
    assert backend.calls[-1][0][0].prefill == "t t t Waitt t t Waitt t t </think>\nFinal Answer:"
    stats = comp.extra["budget_forcing"]
    assert stats["waits"] == 2 and not stats["forced"] and stats["thinking_tokens"] == 12 and stats["calls"] == 4
    assert comp.completion_tokens == 12 + 2 and comp.prompt_tokens == 40


def test_the_budget_caps_thinking_even_while_waiting():
    backend = ScriptedThinker(think=3)
    comp = _one(backend, Forcing(max_thinking_tokens=6, wait_times=5))
    thinking = [p.max_tokens for _, p in backend.calls if END in p.stop]
    assert thinking == [6, 2]  # 4 spent (3 + delimiter), 2 left: cut there
    stats = comp.extra["budget_forcing"]
    assert stats == {**stats, "thinking_tokens": 6, "waits": 1, "forced": True}
    assert comp.text.endswith("t t Waitt t \n</think>\nFinal Answer:42")


def test_no_wait_without_wait_times_and_prefix_only_when_forced():
    backend = ScriptedThinker(think=3, end="<|end_of_thought|>")
    comp = _one(backend, Forcing(max_thinking_tokens=20, prefix_on="forced", end_think="<|end_of_thought|>"))
    assert comp.text == "t t t <|end_of_thought|>42"  # ended by itself: no newline, no prefix
    assert comp.extra["budget_forcing"]["waits"] == 0


def test_think_start_answer_limit_and_the_requests_own_prefill():
    backend = ScriptedThinker(think=2)
    f = Forcing(max_thinking_tokens=8, think_start="<think>\n", answer_prefix=" \\boxed{", answer_max_tokens=5)
    comp = _one(backend, f, prefill="Sure. ")
    assert backend.calls[0][0][0].prefill == "Sure. <think>\n"
    assert backend.calls[-1][1].max_tokens == 5
    # continued, not repeated: the completion holds what follows the request's prefill
    assert comp.text == "<think>\nt t </think> \\boxed{42"


def test_stop_strings_of_the_sampling_also_end_thinking_and_still_apply_to_the_answer():
    backend = ScriptedThinker(think=2)
    _one(backend, Forcing(max_thinking_tokens=8), params=SamplingParams(max_tokens=9, stop=("\n\n",)))
    assert backend.calls[0][1].stop == (END, "\n\n")
    assert backend.calls[-1][1].stop == ("\n\n",)


def test_requests_are_forced_in_chunks_and_each_completion_keeps_its_request():
    backend = ScriptedThinker(think=2)
    reqs = [Request(key=(f"p{i}", 0), messages=[{"role": "user", "content": str(i)}], seed=i) for i in range(5)]
    out = list(budget_force(backend, reqs, SamplingParams(max_tokens=9), Forcing(max_thinking_tokens=8), chunk=2))
    assert sorted(r.key for r, _ in out) == sorted(r.key for r in reqs)
    assert max(len(rs) for rs, _ in backend.calls) == 2
    # the seed of a sample is its own in the first round; continuations get other, fixed seeds
    assert {r.seed for rs, _ in backend.calls[:1] for r in rs} == {0, 1}


def test_an_error_ends_that_sample_with_what_it_had():
    backend = ScriptedThinker(think=2, fail_on_call=2)
    comp = _one(backend, Forcing(max_thinking_tokens=8, wait_times=1))
    assert comp.finish_reason == "error" and comp.text == "t t Wait"
    assert len(backend.calls) == 2  # no answer is forced after an error


def test_wrapper_is_a_backend_and_leaves_the_inner_one_open():
    inner = ScriptedThinker(think=1)
    wrapped = BudgetForcedBackend(inner, Forcing(max_thinking_tokens=4))
    assert wrapped.model == "scripted"
    req = Request(key=("a", 0), messages=[])
    [(got, comp)] = list(wrapped.generate([req], SamplingParams(max_tokens=3)))
    assert got is req and comp.completion_tokens == 2 + 2
    wrapped.close()
    assert inner.calls  # still usable


def test_wrapper_through_the_generate_stage_records_the_total_tokens(tmp_path):
    from skyt1.config import ModelSpec, Sampling
    from skyt1.records import Stage
    from skyt1.stages.generate import generate

    problems = [{"id": f"t/{i}", "task": "t", "domain": "math", "question": f"q{i}", "answer": "42"} for i in range(3)]
    stage = Stage(tmp_path / "gen", "generate", {"x": 1})
    stage.check()
    wrapped = BudgetForcedBackend(ScriptedThinker(think=3), Forcing(max_thinking_tokens=16, wait_times=1))
    summary = generate(problems, {p["id"]: p["question"] for p in problems}, stage, teacher=ModelSpec(),
                       sampling=Sampling(n=2, max_tokens=8), backend=wrapped)
    rows = stage.records()
    assert summary["samples"] == 6 and len(rows) == 6
    assert all(r["usage"]["completion_tokens"] == 8 + 2 and r["response"].endswith("Final Answer:42") for r in rows)


def test_end_thinking():
    f = Forcing(max_thinking_tokens=1)
    assert end_thinking("abc\n", f, forced=True) == "abc\n</think>\nFinal Answer:"
    assert end_thinking("abc", f, forced=True) == "abc\n</think>\nFinal Answer:"
    assert end_thinking("", f, forced=True) == "</think>\nFinal Answer:"
    assert end_thinking("abc", f, forced=False) == "abc</think>\nFinal Answer:"
    with pytest.raises(ValueError):
        Forcing(max_thinking_tokens=0)


def _v(pid, index, extracted, correct, tokens):
    return {"problem_id": pid, "index": index, "extracted": extracted, "correct": correct,
            "usage": {"completion_tokens": tokens}}


def test_self_consistency_points_vote_on_the_first_n_samples():
    verdicts = [
        # a: wrong first, then the right answer twice: maj@1 wrong, maj@3 right
        _v("a", 2, "1", True, 10), _v("a", 0, "7", False, 10), _v("a", 1, "1", True, 10),
        # b: right, wrong, wrong (same wrong answer): maj@1 right, maj@3 wrong
        _v("b", 0, "5", True, 20), _v("b", 1, "6", False, 20), _v("b", 2, "6", False, 20),
        # c: only one sample: in the n=1 point only
        _v("c", 0, "3", True, 4),
    ]
    p1, p2, p3 = self_consistency_points(verdicts, [3, 1, 2, 8])
    assert (p1["n"], p1["accuracy"], p1["n_problems"], p1["tokens"]) == (1, 2 / 3, 3, (10 + 20 + 4) / 3)
    # n=2: a votes 7 vs 1 (tie -> first seen, wrong); b votes 5 vs 6 (tie -> first seen, right)
    assert (p2["n"], p2["accuracy"], p2["n_problems"], p2["tokens"]) == (2, 0.5, 2, 30.0)
    assert (p3["n"], p3["accuracy"], p3["tokens"], p3["avg@n"]) == (3, 0.5, 45.0, 0.5)
    # the Wilson interval at 2 problems (skyt1.metrics.mean_interval; was the clipped normal one, [0, 1])
    assert p3["ci95"] == pytest.approx([0.0945, 0.9055], abs=1e-4) and p3["method"] == "self_consistency"


def test_evaluate_runs_both_sweeps_merges_settings_and_rescores_without_generating(tmp_path, monkeypatch):
    from skyt1.config import EvaluateConfig, ModelSpec, Sampling, ScoreConfig
    from skyt1.stages.evaluate import evaluate

    made: list[ScriptedThinker] = []
    monkeypatch.setattr("skyt1.backends.make_backend",
                        lambda spec, threads=None: made.append(ScriptedThinker(3)) or made[-1])
    logs: list[str] = []

    def run(wait_times: int, rescore: bool = False, ks=(1,)):
        cfg = EvaluateConfig(tasks=["arithmetic"], limit=2, sampling=Sampling(temperature=0.7, max_tokens=8, n=2),
                             budget_forcing={"max_thinking_tokens": [16, 4], "wait_times": wait_times},
                             self_consistency={"n": [1, 2], "temperature": 0.7})
        return evaluate({"m": ModelSpec()}, cfg, ScoreConfig(workers=0, ks=list(ks)), tmp_path, rescore=rescore,
                        log=logs.append)["m"]["arithmetic"]

    first = run(wait_times=1)
    base = tmp_path / "evaluate" / "m" / "arithmetic"
    assert [(p["method"], p["dir"]) for p in first["scaling"]] == [
        ("budget_forcing", "budget/wait1/4"), ("budget_forcing", "budget/wait1/16"),
        ("self_consistency", "."), ("self_consistency", ".")]  # the main samples are the votes
    assert len(made) == 1  # one model for the main run and both budgets
    budget16 = json.loads((base / "budget/wait1/16/result.json").read_text())
    assert budget16["budget_forcing"]["max_thinking_tokens"] == 16 and budget16["accuracy"] is not None
    assert budget16["completion_tokens"]["all"]["mean"] == 4 + 4 + 2  # think, "Wait", think again, answer

    second = run(wait_times=2)  # another setting: its own directories, merged into scaling.json
    assert len(made) == 2 and "budget/wait2/4" in {p["dir"] for p in second["scaling"]}
    points = json.loads((base / "scaling.json").read_text())["points"]
    assert sorted(p["dir"] for p in points if p["method"] == "budget_forcing") == [
        "budget/wait1/16", "budget/wait1/4", "budget/wait2/16", "budget/wait2/4"]
    assert sum(p["method"] == "self_consistency" for p in points) == 2

    verdicts = (base / "score" / "records.jsonl").read_text()
    logs.clear()
    third = run(wait_times=2, rescore=True)
    assert len(made) == 2 and not any("generate ->" in m for m in logs)
    assert sum("score ->" in m for m in logs) == 3  # main and both budgets, re-scored
    assert third["scaling"] == second["scaling"] and sorted(verdicts.splitlines()) == sorted(
        (base / "score" / "records.jsonl").read_text().splitlines())

    logs.clear()
    run(wait_times=2, ks=(1, 2))  # new score settings: re-scored by themselves, nothing generated
    assert len(made) == 2 and sum("re-scoring" in m for m in logs) == 3

"""The LLM paths of curation against a real OpenAI-compatible HTTP server on 127.0.0.1: the
rewrite stage (well-formed, flaky, unfaithful, double-answer, wrong-answer and truncated
rewrites) and difficulty rating (valid, flaky, unparsable, out-of-range ratings).

The server below is a small real one (stdlib ``http.server``): it answers ``POST
/v1/chat/completions`` by reading the prompt the way a model would and writing a rewrite or a
rating whose quality a tag in the problem text chooses. Requests go through
``skyt1.backends.openai.OpenAIBackend`` (httpx), built from the recipe's ``ModelSpec``.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from skyt1.config import CurateConfig, ModelSpec, RewriteConfig
from skyt1.curation.thought import boxed_spans, check_format, code_blocks
from skyt1.records import Stage
from skyt1.stages.curate import curate
from skyt1.stages.rewrite import rewrite

pytestmark = pytest.mark.integration


def _rewrite_answer(question: str, reasoning: str, attempt: int) -> tuple[str, str]:
    """A rewrite of ``reasoning``, good or broken as the tag in ``question`` says."""
    if "[CODE]" in question:
        solution = code_blocks(reasoning)[-1]
        thought = reasoning.replace(solution, "").strip()
    else:
        answer = boxed_spans(reasoning)[-1][2]
        thought = reasoning
        solution = f"Putting the steps together, the answer is $\\boxed{{{answer}}}$."
        if "[TWOBOX]" in question:
            solution += f" Equivalently $\\boxed{{{answer}}}$."
        if "[WRONG]" in question:
            solution = f"So the answer is $\\boxed{{{answer}1}}$."
    if "[INVENT]" in question:
        thought = "Quantum chromodynamics suggests gluons bind quarks inside hadrons, so consider lattice gauge theory."
    text = (f"<|begin_of_thought|>\n\n{thought}\n\n<|end_of_thought|>\n\n"
            f"<|begin_of_solution|>\n\n{solution}\n\n<|end_of_solution|>")
    if "[FLAKY]" in question and attempt == 0:
        text = "Sure! Here is the rewritten reasoning:\n\n" + thought  # no markers
    return text, "length" if "[LONG]" in question else "stop"


def _rating_answer(question: str, attempt: int) -> str:
    tag = re.search(r"RATE=(\S+)", question).group(1)
    if tag == "flaky":
        return "This looks like an AIME problem." if attempt == 0 else "Rating: [[4.5]]"
    if tag == "bad":
        return "Quite hard, honestly."
    return f"The problem needs one standard idea. [[{tag}]]"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        state = self.server.state
        with state["lock"]:
            attempt = state["attempts"][prompt]
            state["attempts"][prompt] += 1
            state["bodies"].append(body)
        if prompt.startswith("Rewrite the reasoning"):
            question = prompt.split("\nProblem:\n", 1)[1].split("\n\nReasoning:\n", 1)[0]
            reasoning = prompt.split("\n\nReasoning:\n", 1)[1]
            text, finish = _rewrite_answer(question, reasoning, attempt)
        else:
            question = prompt.split("\nProblem:\n", 1)[1]
            text, finish = _rating_answer(question, attempt), "stop"
        n_in, n_out = len(prompt.split()), len(text.split())
        out = json.dumps({"id": "chatcmpl-local", "object": "chat.completion", "model": body["model"],
                          "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                       "finish_reason": finish}],
                          "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}})
        data = out.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.state = {"lock": threading.Lock(), "attempts": Counter(), "bodies": []}
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
    yield srv
    srv.shutdown()
    srv.server_close()


def _trace(i: int, answer: str) -> str:
    return (f"First, read problem {i} carefully and list what is given.\n\nNext, combine the given "
            f"quantities step by step for problem {i}, checking each step twice.\n\n"
            f"Finally the result is $\\boxed{{{answer}}}$.")


def _verdict(i: int, tag: str, *, answer="12", correct=True, domain="math", response=None, extracted=None) -> dict:
    return {"task": "mine", "domain": domain, "question": f"Problem {i} {tag}: what is the value?", "answer": answer,
            "problem_id": f"mine/{i}", "index": 0, "model": "teacher", "response": response or _trace(i, answer),
            "finish_reason": "stop", "usage": {"prompt_tokens": 10, "completion_tokens": 40},
            "correct": correct, "extracted": extracted if extracted is not None else answer,
            "reason": "correct" if correct else "wrong_answer"}


def test_llm_rewrite_is_checked_retried_and_failures_never_trained_on(server, tmp_path):
    code = "```python\nprint(sum(map(int, input().split())))\n```"
    code_trace = "Read two integers and print their sum.\n\nThat is all there is to it.\n\n" + code
    rows = [_verdict(1, "[GOOD]"), _verdict(2, "[FLAKY]"), _verdict(3, "[INVENT]"), _verdict(4, "[TWOBOX]"),
            _verdict(5, "[WRONG]"), _verdict(6, "[LONG]"), _verdict(7, "[GOOD]", correct=False),
            _verdict(8, "[CODE]", domain="code", answer=None, response=code_trace,
                     extracted="print(sum(map(int, input().split())))")]
    rows[7]["tests"] = {"inputs": ["1 2\n"], "outputs": ["3\n"]}
    cfg = RewriteConfig(mode="llm", max_attempts=3, max_tokens=2048,
                        rewriter=ModelSpec(backend="openai", model="rewriter-test",
                                           args={"base_url": server.url, "backoff": 0.01, "concurrency": 4}))
    stage = Stage(tmp_path / "rewrite", "rewrite", cfg.model_dump())
    stage.check()
    summary = rewrite(rows, stage, cfg, prices={"api": {"rewriter-test": {"input": 1e6, "output": 1e6}}})
    out = {r["problem_id"]: r for r in stage.records()}
    assert summary["status"] == {"ok": 3, "failed": 4, "skipped": 1} and summary["rewriter"] == "rewriter-test"
    for pid in ("mine/1", "mine/2", "mine/8"):
        r = out[pid]
        assert r["rewrite"] == "ok" and r["rewriter"] == "rewriter-test"
        assert check_format(r["formatted"], original=r["response"], domain=r["domain"], answer=r["extracted"]) == []
    assert out["mine/1"]["rewrite_attempts"] == 1 and out["mine/2"]["rewrite_attempts"] == 2
    expected = {"mine/3": "thought not faithful", "mine/4": "solution has 2 \\boxed answers",
                "mine/5": "differs from the verified '12'", "mine/6": "cut at max_tokens (2048)"}
    for pid, why in expected.items():
        r = out[pid]
        assert r["formatted"] is None and r["rewrite"].startswith("failed: attempt 1: ") and r["rewrite_attempts"] == 3
        assert r["rewrite"].count(why) == 3, r["rewrite"]  # every try is recorded
    assert out["mine/7"]["rewrite"] == "skipped:incorrect"
    attempts = server.state["attempts"]
    assert sum(attempts.values()) == 1 + 2 + 4 * 3 + 1  # retries only for the failures
    assert not any("Problem 7" in p for p in attempts)  # an incorrect trace is never sent
    bodies = server.state["bodies"]
    assert {b["temperature"] for b in bodies} == {0.0, cfg.temperature} and all(b["max_tokens"] == 2048 for b in bodies)
    assert "{question}" not in json.dumps(bodies) and "\\boxed{...}" in bodies[0]["messages"][-1]["content"]
    assert {f["problem_id"] for f in summary["failures"]} == set(expected)
    manifest = stage.manifest()
    usd = manifest["cost"]["usd"]["api"]
    assert usd == pytest.approx(manifest["cost"]["prompt_tokens"] + manifest["cost"]["completion_tokens"])

    # curation drops every failed rewrite, with its reason, and exports only the good ones
    ccfg = CurateConfig(name="llm", histograms=False)
    cu = Stage(tmp_path / "curate", "curate", ccfg.model_dump())
    cu.check()
    csum = curate(stage.records(), cu, ccfg)
    assert sorted(r["problem_id"] for r in cu.records()) == ["mine/1", "mine/2", "mine/8"]
    dropped = [json.loads(x) for x in (cu.dir / "dropped.jsonl").read_text().splitlines()]
    assert {d["problem_id"]: d["drop_reason"].split(":")[0] for d in dropped} == {
        "mine/3": "rewrite_failed", "mine/4": "rewrite_failed", "mine/5": "rewrite_failed", "mine/6": "rewrite_failed",
        "mine/7": "incorrect"}
    messages = (cu.dir / "llm_messages.jsonl").read_text()
    assert "Quantum chromodynamics" not in messages and "\\boxed{121}" not in messages
    assert next(s for s in csum["steps"] if s["step"] == "rewrite")["dropped"] == {"rewrite_failed": 4}


def test_difficulty_rating_through_an_llm_filters_and_is_cached(server, tmp_path):
    from skyt1.curation.difficulty import rate_difficulty

    def row(i: int, tag: str, **meta) -> dict:
        thought = f"reasoning about problem {i} in several steps"
        return {"task": "mine", "domain": "math", "question": f"Problem {i}: RATE={tag} find x.", "answer": "3",
                "meta": meta, "problem_id": f"mine/{i}", "index": 0, "model": "teacher",
                "response": thought + " \\boxed{3}", "finish_reason": "stop",
                "usage": {"prompt_tokens": 5, "completion_tokens": 9}, "correct": True, "extracted": "3",
                "reason": "correct", "rewrite": "ok",
                "formatted": (f"<|begin_of_thought|>\n\n{thought}\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n"
                              "$\\boxed{3}$\n\n<|end_of_solution|>")}

    rows = [row(1, "7"), row(2, "2"), row(3, "flaky"), row(4, "bad"), row(5, "99"), row(6, "none", difficulty=6.0)]
    rater = ModelSpec(backend="openai", model="rater-test", args={"base_url": server.url, "backoff": 0.01})
    cfg = CurateConfig(name="d", histograms=False, difficulty_rater=rater, min_difficulty=3)
    stage = Stage(tmp_path / "curate", "curate", cfg.model_dump())
    stage.check()
    summary = curate(rows, stage, cfg, prices={"api": {"rater-test": {"input": 1e6, "output": 0}}})
    kept = {r["problem_id"]: (r["difficulty"], r["difficulty_source"]) for r in stage.records()}
    assert kept == {"mine/1": (7.0, "llm"), "mine/3": (4.5, "llm"), "mine/6": (6.0, "meta")}
    dropped = {json.loads(x)["problem_id"]: json.loads(x)["drop_reason"]
               for x in (stage.dir / "dropped.jsonl").read_text().splitlines()}
    assert dropped == {"mine/2": "too_easy:2", "mine/4": "difficulty_unrated", "mine/5": "difficulty_unrated"}
    d = summary["difficulty"]
    assert (d["from_meta"], d["from_llm"], d["unrated"]) == (1, 3, 2)
    assert {f["problem_id"] for f in d["failed"]} == {"mine/4", "mine/5"}
    assert "unparsable rating" in d["failed"][0]["error"]
    attempts = server.state["attempts"]
    prompts = {re.search(r"Problem (\d+):", p).group(1): n for p, n in attempts.items()}
    assert prompts == {"1": 1, "2": 1, "3": 2, "4": 3, "5": 3}  # mine/6 had a label; failures retried
    assert "AMC 12" in next(iter(attempts)) and "[[" in next(iter(attempts))  # the AoPS rubric and format
    assert stage.manifest()["cost"]["usd"]["api"] > 0

    # a rerun pays only for what is still unrated
    stage.check(force=True)
    curate(rows, stage, cfg)
    again = {re.search(r"Problem (\d+):", p).group(1): n for p, n in attempts.items()}
    assert again == {"1": 1, "2": 1, "3": 2, "4": 6, "5": 6}

    # the function itself, on a code problem (its own rubric)
    from skyt1.backends.openai import OpenAIBackend

    res = rate_difficulty([{"id": "c/1", "question": "Problem 9: RATE=8 sort an array.", "domain": "code"}],
                          OpenAIBackend("rater-test", base_url=server.url))
    assert res == {"c/1": {"difficulty": 8.0, "attempts": 1, "error": None}}
    assert any("Codeforces" in p for p in attempts if "Problem 9" in p)


def test_structural_fallback_rewrites_what_the_llm_failed_and_counts_it_apart(server, tmp_path):
    """``fallback: structural``: a trace the LLM fails on every try is formatted structurally,
    marked ``structural_fallback`` and kept by curate; one the formatter fails too stays failed."""
    rows = [_verdict(1, "[GOOD]"), _verdict(3, "[INVENT]"), _verdict(5, "[WRONG]"),
            _verdict(9, "[LONG]", domain="code", answer=None, extracted="",
                     response="I would loop over the input and print $\\boxed{3}$.")]  # no program to format
    cfg = RewriteConfig(mode="llm", max_attempts=2, max_tokens=512, fallback="structural",
                        rewriter=ModelSpec(backend="openai", model="rewriter-test",
                                           args={"base_url": server.url, "backoff": 0.01}))
    stage = Stage(tmp_path / "rewrite", "rewrite", cfg.model_dump())
    stage.check()
    summary = rewrite(rows, stage, cfg)
    out = {r["problem_id"]: r for r in stage.records()}
    assert summary["status"] == {"ok": 3, "failed": 1}
    assert summary["rewritten_by"] == {"llm": 1, "structural_fallback": 2}
    assert out["mine/1"]["rewriter"] == "rewriter-test" and "rewrite_llm_errors" not in out["mine/1"]
    for pid, why in (("mine/3", "thought not faithful"), ("mine/5", "differs from the verified '12'")):
        r = out[pid]
        assert r["rewrite"] == "ok" and r["rewriter"] == "structural_fallback"
        assert r["rewrite_llm_errors"].count(why) == 2  # why each LLM try failed is kept
        assert check_format(r["formatted"], original=r["response"], answer=r["extracted"]) == []
        assert "Quantum chromodynamics" not in r["formatted"]  # the formatter's text, from the original trace
    failed = out["mine/9"]
    assert failed["formatted"] is None and "structural fallback: " in failed["rewrite"]
    assert sum(server.state["attempts"].values()) == 1 + 3 * 2  # the fallback sends nothing

    ccfg = CurateConfig(name="fb", histograms=False)
    cu = Stage(tmp_path / "curate", "curate", ccfg.model_dump())
    cu.check()
    curate(stage.records(), cu, ccfg)
    assert sorted(r["problem_id"] for r in cu.records()) == ["mine/1", "mine/3", "mine/5"]


def test_the_rewriter_gets_the_recipes_system_message_before_the_prompt(server, tmp_path):
    cfg = RewriteConfig(mode="llm", max_attempts=1, system_prompt="You are a solution format convertor.",
                        rewriter=ModelSpec(backend="openai", model="rewriter-test", args={"base_url": server.url}))
    stage = Stage(tmp_path / "rewrite", "rewrite", cfg.model_dump())
    stage.check()
    assert rewrite([_verdict(1, "[GOOD]")], stage, cfg)["status"] == {"ok": 1}
    (body,) = server.state["bodies"]
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == "You are a solution format convertor."

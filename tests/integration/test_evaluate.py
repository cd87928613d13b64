"""`skyt1 evaluate` (the CLI, in process) end to end with the embedded model on MATH500, GSM8K
and HumanEval subsets (code judged in the bubblewrap sandbox); re-scoring gives identical
verdicts and summaries without generating again; a small budget-forcing sweep goes through the
prefill path; the report shows it all."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from skyt1.cli import app

pytestmark = pytest.mark.integration

TASKS = ("math500", "gsm8k", "humaneval")
runner = CliRunner()


def _cli(*args: str):
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, (res.output[-3000:], res.exception)
    return res


def _snapshot(run) -> dict:
    out = {}
    for task in TASKS:
        base = run / "evaluate" / "embedded" / task
        verdicts = [json.loads(line) for line in (base / "score" / "records.jsonl").read_text().splitlines()]
        out[task] = {
            "samples": (base / "generate" / "records.jsonl").read_bytes(),
            "verdicts": sorted(verdicts, key=lambda r: r["_key"]),
            "summary": json.loads((base / "score" / "summary.json").read_text()),
            "result": json.loads((base / "result.json").read_text()),
        }
    return out


def test_evaluate_three_benchmarks_then_rescore_identically(tmp_path, embedded_path):
    run = tmp_path / "eval"
    common = ["evaluate", "--model", "embedded", "--limit", "2", "--run-dir", str(run)]
    math_args = [*common, "--task", "math500,gsm8k", "--max-tokens", "48"]
    code_args = [*common, "--task", "humaneval", "--max-tokens", "128"]  # room to close the code block
    printed = {}
    for args in (math_args, code_args):
        printed.update(json.loads(_cli(*args).stdout.strip().splitlines()[-1]))
    assert set(printed) == set(TASKS)
    before = _snapshot(run)
    for task, snap in before.items():
        r = snap["result"]
        assert r["n_problems"] == 2 and r["n_samples"] == 2 and 0.0 <= r["accuracy"] <= 1.0
        assert r["ci95"][0] <= r["accuracy"] <= r["ci95"][1]
        max_tokens = 128 if task == "humaneval" else 48
        assert r["sampling"] == {"temperature": 0.0, "top_p": 1.0, "max_tokens": max_tokens, "n": 1, "stop": [], "seed": 0}
        assert r["prompt"] and "{question}" in r["prompt"]
        assert r["grader"]["verifier"] == ("code" if task == "humaneval" else "math")
        assert "skyt1" in r["grader"] and "math-verify" in r["grader"]
        assert printed[task]["accuracy"] == r["accuracy"]
    assert any(v["reason"] != "truncated" for v in before["humaneval"]["verdicts"]), "no answer reached the sandbox"

    logs = "".join(_cli(*args, "--rescore").stderr for args in (math_args, code_args))
    assert "generate ->" not in logs  # nothing generated again
    assert logs.count("[skip] generate") == 3 and logs.count("score ->") == 3
    assert _snapshot(run) == before

    _cli("report", str(run))
    md = (run / "report" / "report.md").read_text()
    for task in TASKS:
        assert f"| {task} | embedded (`embedded`) | test | 2 | 2 | **" in md
    assert "*Sky-T1-32B-Preview* (published" in md and "| embedded | gsm8k, humaneval, math500 | **" in md
    assert (run / "report" / "report.html").stat().st_size > 0 and (run / "report" / "accuracy.png").exists()


def test_budget_forcing_sweep_through_the_prefill_path(tmp_path, embedded_path):
    from skyt1.config import EvaluateConfig, ModelSpec, Sampling, ScoreConfig
    from skyt1.report import build_report
    from skyt1.stages.evaluate import evaluate

    cfg = EvaluateConfig(tasks=["arithmetic"], limit=2,
                         sampling=Sampling(temperature=0.0, max_tokens=8),
                         budget_forcing={"max_thinking_tokens": [4, 16], "wait_times": 1, "answer_max_tokens": 8})
    res = evaluate({"embedded": ModelSpec(backend="embedded", batch_size=8)}, cfg, ScoreConfig(workers=1), tmp_path,
                   log=lambda m: None)
    points = res["embedded"]["arithmetic"]["scaling"]
    assert [p["max_thinking_tokens"] for p in points] == [4, 16]
    base = tmp_path / "evaluate" / "embedded" / "arithmetic"
    assert json.loads((base / "scaling.json").read_text())["points"] == points
    rows = []
    for budget in (4, 16):
        for line in (base / "budget" / "wait1" / str(budget) / "generate" / "records.jsonl").read_text().splitlines():
            r = json.loads(line)
            rows.append(r)
            assert "</think>\nFinal Answer:" in r["response"]
            assert r["usage"]["completion_tokens"] <= budget + 8  # the thinking never exceeds its budget
    assert any("Wait" in r["response"] for r in rows), "the model never stopped early: no 'Wait' was inserted"
    assert points[0]["tokens"] <= points[1]["tokens"]

    paths = build_report(tmp_path)
    md = paths["markdown"].read_text()
    assert "| arithmetic | embedded | budget forcing | budget 16, wait x1 |" in md and paths["scaling.png"].exists()

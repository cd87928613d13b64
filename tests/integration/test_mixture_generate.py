"""`skyt1 generate` on a filtered two-source mixture with the embedded teacher: each sample names its
source, the summary carries what each source had, kept after its filters and drew by its quota, and
the report shows it."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

SOURCES = ("generate.sources=[{name: hard, task: math_train, split: train, filters: {level: 5}, quota: 2, seed: 3}, "
           "{name: short, task: gsm8k, split: train, filters: {question_chars: {max: 120}}, quota: 1}]")


def test_generate_reports_each_sources_selection(tmp_path, embedded_path):
    from skyt1.report import build_report

    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "skyt1.cli", "generate", "--set", SOURCES, "--set", "generate.sampling.n=1",
           "--set", "generate.sampling.max_tokens=4", "--set", f"run_dir={run}"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((run / "generate" / "summary.json").read_text())
    hard, short = summary["by_source"]["hard"], summary["by_source"]["short"]
    assert (hard["available"], hard["after_filters"], hard["quota"], hard["problems"]) == (7498, {"level": 2302}, 2, 2)
    assert short["quota"] == 1 and short["problems"] == 1 and 0 < short["after_filters"]["question_chars"] < 7473
    rows = [json.loads(line) for line in (run / "generate" / "records.jsonl").read_text().splitlines()]
    assert sorted(r["source"] for r in rows) == ["hard", "hard", "short"]
    assert all(r["meta"]["level"] == 5 for r in rows if r["source"] == "hard")
    assert all(len(r["question"]) <= 120 for r in rows if r["source"] == "short")
    md = build_report(run)["markdown"].read_text()
    assert "## Mixture" in md and "| hard | 7498 | level 2302 | 2 | 2 | 2 |" in md

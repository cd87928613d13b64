"""The whole recipe's planned cost: every stage has a line with its assumption; measured figures
in the run directory replace stated ones; API lines are priced at the recipe's token prices."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from skyt1.cli import app
from skyt1.config import load_recipe
from skyt1.cost_plan import (
    EMBEDDED_TOKENS_PER_SECOND,
    format_plan,
    planned_problems,
    recipe_plan_cost,
)

ONE_SOURCE = "generate.sources=[{task: math_train, quota: 1000}]"  # the 32B recipe with one 1000-problem source


def _line(lines, stage, what=""):
    return next(x for x in lines if x["stage"] == stage and what in x["what"])


def test_tiny_recipe_plan_has_every_stage_with_its_assumption(tmp_path):
    r = load_recipe("tiny", [f"run_dir={tmp_path}/run"])
    lines = recipe_plan_cost(r)
    assert planned_problems(r) == 64
    gen = _line(lines, "generate")
    assert gen["tokens_out"] == 64 * 4 * 40 and "upper bound" in gen["assumption"]  # max_tokens 40
    assert gen["cpu_hours"] == pytest.approx(64 * 4 * 40 / EMBEDDED_TOKENS_PER_SECOND / 3600 * r.threads)
    assert {x["stage"] for x in lines} == {"generate", "score", "rewrite", "train", "evaluate", "total"}
    assert all(x["assumption"] for x in lines if x["stage"] != "total")
    total = _line(lines, "total")
    assert total["usd"] == pytest.approx(sum(x["usd"] for x in lines[:-1]))
    table = format_plan(lines)
    assert "generate" in table and "assumption" in table.splitlines()[0]
    assert format_plan(lines, markdown=True).splitlines()[1].startswith("|---|")


def test_measured_tokens_and_throughput_replace_the_stated_ones(tmp_path):
    r = load_recipe("tiny", [f"run_dir={tmp_path}/run"])
    gen = r.run_path / "generate"
    gen.mkdir(parents=True)
    (gen / "summary.json").write_text(json.dumps({"model": r.generate.teacher.model, "samples": 256,
                                                  "completion_tokens": 6587}))
    (gen / "manifest.json").write_text(json.dumps({"cost": {"wall_seconds": 73.0}}))
    line = _line(recipe_plan_cost(r), "generate")
    assert line["tokens_out"] == pytest.approx(6587) and "measured" in line["assumption"]
    assert line["cpu_hours"] == pytest.approx(73.0 / 3600 * r.threads)


def test_api_teacher_and_rewriter_are_priced_per_token(tmp_path):
    r = load_recipe("sky-t1-32b-preview", [ONE_SOURCE, "generate.teacher.backend=openai",
                                           "generate.teacher.model=gpt-4o-mini", f"run_dir={tmp_path}/run"])
    lines = recipe_plan_cost(r)
    gen, rw = _line(lines, "generate"), _line(lines, "rewrite")
    out = 1000 * 16384
    assert gen["tokens_out"] == out and gen["gpu_hours"] == 0.0
    assert gen["usd"] == pytest.approx(gen["tokens_in"] / 1e6 * 0.15 + out / 1e6 * 0.6)
    assert rw["usd"] == pytest.approx(rw["tokens_in"] / 1e6 * 0.15 + out / 1e6 * 0.6) and "gpt-4o-mini" in rw["what"]
    train = _line(lines, "train")
    assert train["gpu_hours"] > 0 and "MFU 35%" in train["assumption"]
    # a local teacher on GPUs: hours from FLOPs at the stated utilisation
    local = _line(recipe_plan_cost(load_recipe("sky-t1-32b-preview", [ONE_SOURCE])), "generate")
    assert local["gpu_hours"] > 0 and "2N FLOPs/token" in local["assumption"]


def test_the_judge_is_priced_and_an_offline_hub_benchmark_counts_its_published_size(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = load_recipe("sky-t1-32b-preview", [ONE_SOURCE, f"run_dir={tmp_path}/run"])
    lines = recipe_plan_cost(r)
    judge = _line(lines, "score", "LLM judge")
    assert judge["tokens_out"] == 1000 * 512 and judge["usd"] > 0 and "upper bound" in judge["assumption"]
    gpqa = _line(lines, "evaluate", "base on gpqa_diamond")
    assert gpqa["what"].endswith("198 x 1") and "published size" in gpqa["assumption"] and gpqa["usd"] > 0
    lcb = _line(lines, "evaluate", "base on livecodebench-hard")  # no published per-difficulty size
    assert lcb["usd"] is None and "unknown" in lcb["assumption"]
    no_judge = recipe_plan_cost(load_recipe("sky-t1-32b-preview", [ONE_SOURCE, "score.judge=null"]))
    assert not [x for x in no_judge if "LLM judge" in x["what"]]


def test_cost_command_prints_the_plan_before_the_training_estimate():
    res = CliRunner().invoke(app, ["cost", "sky-t1-32b-preview"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert res.output.index("Whole recipe, planned") < res.output.index("published Sky-T1-32B-Preview")
    assert "Whole recipe, planned" in res.output


def test_report_command_puts_the_plan_beside_the_ledgers(tmp_path):
    from report_run import make_run

    run = make_run(tmp_path / "run")
    res = CliRunner().invoke(app, ["report", str(run), "--recipe", "tiny"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "viewer:" in res.output and (run / "report" / "viewer" / "index.html").is_file()
    md = (run / "report" / "report.md").read_text(encoding="utf-8")
    assert "## Planned and measured cost" in md and "| generate | 64 problems x 4 samples" in md

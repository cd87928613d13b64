"""`skyt1 run RECIPE --dry-run`: every shipped recipe validates on this CPU box (no GPU, no hub),
prints its plan, and a broken recipe exits non-zero naming the key."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from skyt1.cli import app
from skyt1.config import shipped_recipes

runner = CliRunner()


@pytest.mark.parametrize("name", sorted(shipped_recipes()))
def test_every_shipped_recipe_passes_its_dry_run(name):
    res = runner.invoke(app, ["run", name, "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "dry run: the recipe is ready to run" in res.output and "total" in res.output


def test_the_32b_plan_shows_the_launch_the_mixture_and_the_serving_backend():
    res = runner.invoke(app, ["run", "sky-t1-32b-preview", "--dry-run"])
    out = res.output
    assert "global batch 96 = 1 x 12 x 8 processes" in out
    assert "-m accelerate.commands.launch" in out and "--num_processes 8" in out and "ds_zero3_offload.json" in out
    assert "evaluate trained:" in out and "via vllm" in out
    # hub-only decontamination benchmarks are named, and the dry run still passes without the hub
    assert "the curate stage needs the hub (it stops rather than skip one): gpqa_diamond, livecodebench" in out


def test_the_rehearsal_plans_two_processes_and_three_sources():
    out = runner.invoke(app, ["run", "sky-t1-rehearsal", "--dry-run"]).output
    assert "global batch 8 = 4 x 1 x 2 processes" in out and "--num_processes 2" in out
    for source in ("source math: 16 problems", "source code: 4 problems", "source puzzles: 8 problems"):
        assert source in out


@pytest.mark.parametrize("sets, key", [
    (["train.num_gpus=4"], "train.global_batch_size"),
    (["generate.sources=[{task: no_such_task}]"], "generate.sources[0]"),
    (["generate.sources=[{task: math500, split: train}]"], "generate.sources[0] (math500).split"),
    (["train.accelerate_config=nowhere.yaml"], "train.accelerate_config"),
    (["evaluate.tasks=[math500, nope]"], "evaluate.tasks"),
])
def test_a_broken_recipe_fails_naming_the_key(sets, key):
    res = runner.invoke(app, ["run", "sky-t1-32b-preview", "--dry-run", *sum((["--set", s] for s in sets), [])])
    assert res.exit_code == 1, res.output
    assert f"error: {key}" in res.output or f"error: generate: {key}" in res.output, res.output

"""The whole recipe, stage after stage, in one run directory.

    problems -generate-> samples -score-> verdicts -rewrite-> formatted -curate-> SFT set
    -train-> student -evaluate(base, trained)-> results -report-> report.md/html

Every stage module has the same pair (``skyt1.stages``): ``plan(recipe)`` builds its ``Stage``
(directory, hashed config, input files) and ``run(recipe, stage)`` runs it; ``skyt1 <stage>``
calls the same pair. Each stage's hash covers its config and its input files' contents, so a
change upstream reruns everything downstream, and a finished stage with the same inputs is
skipped (and says so). Training runs in as many processes as the recipe plans
(``skyt1.stages.train.run``).
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from skyt1.config import Recipe
from skyt1.records import run_stage
from skyt1.stages import PIPELINE

__all__ = ["run_recipe"]


def run_recipe(recipe: Recipe, *, force: bool = False, log=print) -> dict[str, Path]:
    """Run every stage of ``recipe``; return the report's paths."""
    import torch

    from skyt1.report import build_report
    from skyt1.stages import evaluate

    torch.set_num_threads(recipe.threads)
    for name in PIPELINE:
        module = import_module(f"skyt1.stages.{name}")
        stage = module.plan(recipe)
        run_stage(stage, force, lambda: module.run(recipe, stage), log)  # noqa: B023 - called at once
    evaluate.run(recipe, log=log)
    return build_report(recipe.run_path, title=f"skyt1 recipe '{recipe.name}'", prices=recipe.prices.model_dump(),
                        recipe=recipe)

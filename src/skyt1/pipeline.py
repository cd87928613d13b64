"""The whole recipe, stage after stage, in one run directory.

    problems -generate-> samples -score-> verdicts -rewrite-> formatted -curate-> SFT set
    -train-> student -evaluate(base, trained)-> results -report-> report.md/html

Each stage's hash covers its config and its input files' contents, so a change upstream reruns
everything downstream, and a finished stage with the same inputs is skipped (and says so).
"""

from __future__ import annotations

from pathlib import Path

from skyt1.config import ModelSpec, Recipe
from skyt1.records import Stage, StageAlreadyDone

__all__ = ["run_recipe", "stage_dirs"]


def stage_dirs(run: Path) -> dict[str, Path]:
    return {name: run / name for name in ("generate", "score", "rewrite", "curate", "train")}


def _run(stage: Stage, force: bool, log, fn):
    try:
        stage.check(force=force)
    except StageAlreadyDone as e:
        log(f"[skip] {e}")
        return None
    log(f"[run] {stage.name} -> {stage.dir}")
    return fn()


def _output_hash(stage: Stage) -> str:
    """The hash of a finished stage's output (the trained model's summary for ``train``)."""
    m = stage.manifest() or {}
    return m.get("outputs", {}).get("records.jsonl") or m.get("config_hash", "")


def run_recipe(recipe: Recipe, *, force: bool = False, log=print) -> dict[str, Path]:
    """Run every stage of ``recipe``; return the report's paths."""
    import torch

    from skyt1.report import build_report
    from skyt1.stages.curate import curate
    from skyt1.stages.evaluate import evaluate
    from skyt1.stages.generate import generate, problems_of
    from skyt1.stages.rewrite import rewrite
    from skyt1.stages.score import score

    torch.set_num_threads(recipe.threads)
    run = recipe.run_path
    dirs = stage_dirs(run)
    prices = recipe.prices.model_dump()
    g = recipe.generate
    task, problems = problems_of(g)

    gen = Stage(dirs["generate"], "generate", {**g.model_dump(), "prompt": task.prompt}, seed=g.sampling.seed)
    _run(gen, force, log, lambda: generate(problems, {p["id"]: task.render(p) for p in problems}, gen,
                                           teacher=g.teacher, sampling=g.sampling, threads=recipe.threads, prices=prices))

    # Where verdicts are computed (local processes or a Ray cluster) does not change them: not hashed.
    sc = Stage(dirs["score"], "score", {**recipe.score.model_dump(exclude={"ray"}), "verifier": task.verifier},
               inputs=[gen.records_path])
    s = recipe.score
    _run(sc, force, log, lambda: score([dict(r, _kind=task.verifier) for r in gen.records()], sc, workers=s.workers,
                                       timeout=s.timeout, code_timeout=s.code_timeout, ks=s.ks, prices=prices, ray=s.ray,
                                       judge=s.judge))

    rw = Stage(dirs["rewrite"], "rewrite", recipe.rewrite.model_dump(), inputs=[sc.records_path])
    _run(rw, force, log, lambda: rewrite(sc.records(), rw, recipe.rewrite, threads=recipe.threads, prices=prices))

    cu = Stage(dirs["curate"], "curate", recipe.curate.model_dump(), inputs=[rw.records_path])
    _run(cu, force, log, lambda: curate(rw.records(), cu, recipe.curate, prices=prices))

    if recipe.preference is None:  # SFT on the curated traces (Sky-T1-32B-Preview)
        from skyt1.stages.train import train, train_stage

        data, tr = train_stage(recipe)
        _run(tr, force, log, lambda: train(data, tr, recipe.train, threads=recipe.threads, prices=prices))
        student = recipe.train.base
    else:  # SimPO on the curated preference pairs (Sky-T1-32B-Flash)
        from skyt1.stages.preference import preference_stage, train_preference

        data, tr = preference_stage(recipe)
        _run(tr, force, log, lambda: train_preference(data, tr, recipe.preference, threads=recipe.threads, prices=prices))
        student = recipe.preference.base

    models = {"base": student,
              "trained": ModelSpec(backend="transformers", model=str(tr.dir / "model"), revision=_output_hash(tr) or None,
                                   system_prompt=student.system_prompt, batch_size=student.batch_size)}
    models = {k: v for k, v in models.items() if k in recipe.evaluate.models}
    evaluate(models, recipe.evaluate, recipe.score, run, threads=recipe.threads, prices=prices, log=log)
    return build_report(run, title=f"skyt1 recipe '{recipe.name}'", prices=prices)

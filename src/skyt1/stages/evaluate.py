"""evaluate: generate and score a model on each task's evaluation split, with optional
test-time scaling sweeps (budget forcing, self-consistency; ``skyt1.scaling``).

For each ``(model label, task)`` the run gets, under ``evaluate/<label>/<task>/``:

- ``generate/`` (samples) and ``score/`` (verdicts), both resumable stages, and ``result.json``:
  the score summary plus the sampling settings, the prompt template and system prompt, the
  grader (verifier kind, skyt1 and math-verify versions) and the config hashes of the two stages;
- with ``budget_forcing``: ``budget/wait<k>/<N>/{generate,score,result.json}`` for each thinking
  budget N (k: the wait count);
- with ``self_consistency``: ``self_consistency/T<temperature>/{generate,score,result.json}`` (the
  votes; the main samples are reused when they already are enough votes at that temperature);
- ``scaling.json``: the points of the accuracy-against-tokens curve, merged in when a sweep
  finishes (a sweep with other settings adds its own points); each point names its stages'
  directory and config hashes.

``rescore=True`` re-scores every existing generation without generating again; a score stage
whose settings or grader changed is re-scored as well (generations are never redone silently).
``result.json`` is removed when work on its stages starts and written when it finishes; both
files record the config hashes of the stages they summarize, so the report can check that those
stages are finished, with that config, before it shows a number.
"""

from __future__ import annotations

import json
from pathlib import Path

from skyt1.config import (
    BudgetForcing,
    EvaluateConfig,
    ModelSpec,
    Sampling,
    ScoreConfig,
    SelfConsistency,
    system_prompt_text,
)
from skyt1.records import Stage, StageAlreadyDone, package_versions, write_json_atomic
from skyt1.scaling import (
    BudgetForcedBackend,
    Forcing,
    budget_point,
    self_consistency_points,
)
from skyt1.stages.generate import generate
from skyt1.stages.score import score, summarize_verdicts
from skyt1.tasks import Task, get_task

__all__ = ["evaluate", "grader_version", "models_of", "run"]


def grader_version() -> dict:
    return package_versions(("skyt1", "math-verify"), python=False)


class _LazyBackend:
    """The model is loaded on first use only, so a run whose samples all exist never loads it."""

    def __init__(self, spec: ModelSpec, threads: int) -> None:
        self.spec, self.threads, self.backend = spec, threads, None

    def get(self):
        if self.backend is None:
            from skyt1.backends import make_backend

            self.backend = make_backend(self.spec, threads=self.threads)
        return self.backend

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend = None


def models_of(recipe) -> dict[str, ModelSpec]:
    """The recipe's models under evaluation: ``base`` (the student before training) and ``trained``
    (the train stage's ``model`` directory, its revision the stage's output hash so new weights are
    evaluated anew), both served through ``evaluate.backend`` when it is set. A server or vLLM
    loads a model by path, so the embedded model is named by its cached checkpoint there."""
    from skyt1.backends import resolve_model_path
    from skyt1.stages import train

    e = recipe.evaluate
    student = (recipe.preference or recipe.train).base
    stage = train.plan(recipe)
    revision = (stage.manifest() or {}).get("config_hash")
    trained = ModelSpec(backend="transformers", model=str(stage.dir / "model"), revision=revision,
                        system_prompt=student.system_prompt, batch_size=student.batch_size)
    specs = {"base": student, "trained": trained}
    if e.backend is not None:
        for label, spec in specs.items():
            keep = e.backend == "embedded" and label == "base"
            backend = e.backend if e.backend != "embedded" else ("embedded" if keep else "transformers")
            # A server or vLLM loads by path, from its own working directory: absolute paths.
            model = spec.model if keep else resolve_model_path(spec.model)
            model = str(Path(model).absolute()) if label == "trained" else model
            specs[label] = spec.model_copy(update={"backend": backend, "model": model, "args": dict(e.backend_args)})
    return {label: specs[label] for label in e.models}


def run(recipe, *, log=print) -> dict:
    """Evaluate the recipe's models (``models_of``) on ``evaluate.tasks``; see ``evaluate``."""
    return evaluate(models_of(recipe), recipe.evaluate, recipe.score, recipe.run_path, threads=recipe.threads,
                    prices=recipe.prices.model_dump(), log=log)


def evaluate(models: dict[str, ModelSpec], cfg: EvaluateConfig, score_cfg: ScoreConfig, run_dir: Path, *,
             threads: int = 1, prices: dict | None = None, rescore: bool = False, log=print) -> dict:
    """Evaluate every model on every task; return ``{label: {task: result}}``.

    ``models`` maps a label (``base``, ``trained``, a path) to its spec. A result is what
    ``result.json`` holds, plus ``scaling`` (the curve's points) when a sweep is configured.
    """
    results: dict[str, dict] = {}
    for label, spec in models.items():
        backend = _LazyBackend(spec, threads)
        try:
            for name in cfg.tasks:
                run = _TaskRun(label, spec, get_task(name), cfg, score_cfg, Path(run_dir), backend, prices, rescore, log)
                results.setdefault(label, {})[name] = run.all()
        finally:
            backend.close()
    return results


class _TaskRun:
    def __init__(self, label, spec, task: Task, cfg: EvaluateConfig, score_cfg: ScoreConfig, run_dir: Path,
                 backend: _LazyBackend, prices, rescore: bool, log) -> None:
        self.label, self.spec, self.task, self.cfg, self.score_cfg = label, spec, task, cfg, score_cfg
        self.backend, self.prices, self.rescore, self.log = backend, prices, rescore, log
        self.split = cfg.split if cfg.split in task.splits else task.splits[-1]
        self.problems = [dict(p, source=task.name, verifier=task.verifier) for p in task.problems(self.split, cfg.limit)]
        self.prompts = {p["id"]: task.render(p) for p in self.problems}
        self.base = run_dir / "evaluate" / label / task.name

    def all(self) -> dict:
        cfg = self.cfg
        result = self.pair(self.base, cfg.sampling)
        points = []
        if cfg.budget_forcing is not None:
            points += self.budget_sweep(cfg.budget_forcing)
        if cfg.self_consistency is not None:
            points += self.self_consistency(cfg.self_consistency, result)
        if points:
            self._write_scaling(points)
            result = {**result, "scaling": points}
        return result

    def _write_scaling(self, points: list[dict]) -> None:
        """Merge into ``scaling.json``: the new points replace those of the same directories;
        points of other settings (another wait count or vote temperature) stay."""
        path = self.base / "scaling.json"
        old = json.loads(path.read_text(encoding="utf-8")).get("points", []) if path.is_file() else []
        fresh = {p["dir"] for p in points}
        write_json_atomic(path, {"label": self.label, "model": self.spec.model, "task": self.task.name,
                                 "split": self.split, "points": [p for p in old if p["dir"] not in fresh] + points})

    def pair(self, base: Path, sampling: Sampling, forcing=None) -> dict:
        """Generate (unless finished) and score (unless finished with the same settings) into
        ``base``; write and return ``base/result.json``."""
        gen_cfg = {"model": self.spec.model_dump(), "task": self.task.name, "split": self.split,
                   "limit": self.cfg.limit, "sampling": sampling.model_dump(), "prompt": self.task.prompt}
        if forcing is not None:
            gen_cfg["budget_forcing"] = forcing
        gen = Stage(base / "generate", "generate", gen_cfg, seed=sampling.seed)
        try:
            gen.check()
            (base / "result.json").unlink(missing_ok=True)  # it will describe the new work, once finished
            backend = self.backend.get()
            if forcing is not None:
                backend = BudgetForcedBackend(backend, Forcing(**forcing))
            self.log(f"[run] evaluate {self.label} {self.task.name}: generate -> {gen.dir}")
            generate(self.problems, self.prompts, gen, teacher=self.spec, sampling=sampling, backend=backend,
                     threads=self.backend.threads, prices=self.prices)
        except StageAlreadyDone as e:
            self.log(f"[skip] {e}")
        grader = {"verifier": self.task.verifier, **grader_version()}
        sc_cfg = {**self.score_cfg.model_dump(exclude={"ray"}), "verifier": self.task.verifier, "grader": grader,
                  "samples": gen.manifest()["outputs"]}
        sc = Stage(base / "score", "score", sc_cfg, inputs=[gen.records_path])
        force = self.rescore or _config_changed(sc)
        if force and not self.rescore:
            self.log(f"score settings or grader changed since {sc.dir} was scored: re-scoring")
        try:
            sc.check(force=force)
            (base / "result.json").unlink(missing_ok=True)
            self.log(f"[run] evaluate {self.label} {self.task.name}: score -> {sc.dir}")
            s = self.score_cfg
            summary = score(gen.iter_records(), sc, verifier=self.task.verifier, workers=s.workers, timeout=s.timeout,
                            code_timeout=s.code_timeout, ks=s.ks, prices=self.prices, ray=s.ray)
        except StageAlreadyDone as e:
            self.log(f"[skip] {e}")
            summary = json.loads(sc.summary_path.read_text(encoding="utf-8"))
        result = {**summary, "model": self.spec.model, "label": self.label, "task": self.task.name,
                  "split": self.split, "sampling": sampling.model_dump(), "prompt": self.task.prompt,
                  "system_prompt": system_prompt_text(self.spec.system_prompt), "grader": grader,
                  "stages": {"generate": gen.hash, "score": sc.hash}}
        if forcing is not None:
            result["budget_forcing"] = forcing
        write_json_atomic(base / "result.json", result)
        return result

    def budget_sweep(self, bf: BudgetForcing) -> list[dict]:
        points = []
        for budget in sorted(set(bf.max_thinking_tokens)):
            forcing = {**bf.model_dump(exclude={"max_thinking_tokens"}), "max_thinking_tokens": budget}
            where = f"budget/wait{bf.wait_times}/{budget}"
            result = self.pair(self.base / where, self.cfg.sampling, forcing)
            points.append({**budget_point(result, Forcing(**forcing)), "label": self.label, "task": self.task.name,
                           "dir": where, "stages": result["stages"]})
        return points

    def self_consistency(self, scc: SelfConsistency, main: dict) -> list[dict]:
        s = self.cfg.sampling
        if s.n >= max(scc.n) and s.temperature == scc.temperature:
            where, result = ".", main
        else:
            where = f"self_consistency/T{scc.temperature:g}"
            result = self.pair(self.base / where, s.model_copy(update={"n": max(scc.n), "temperature": scc.temperature}))
        verdicts = Stage(self.base / where / "score", "score", {}).records()
        points = self_consistency_points(verdicts, scc.n, summarize=summarize_verdicts)
        return [{**p, "temperature": scc.temperature, "label": self.label, "task": self.task.name, "dir": where,
                 "stages": result["stages"]} for p in points]


def _config_changed(stage: Stage) -> bool:
    """True when ``stage`` holds work (finished or not) done with another config."""
    for path in (stage.manifest_path, stage.dir / "config.json"):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8")).get("config_hash") != stage.hash
    return False

"""The recipe schema: one typed source of truth for every stage's settings.

Precedence: field defaults < the recipe YAML < ``--set section.key=value`` overrides.
Unknown keys are rejected (``extra="forbid"``) with a message naming the key and the file.
Shipped recipes live in ``skyt1/recipes/*.yaml`` and are loaded by name (``tiny``) or path.

Layout: ``base`` (the strict model, ModelSpec, Sampling, bundled prompts), ``stages`` (generate,
score, rewrite, curate), ``model_stages`` (train, preference, evaluate), and here the recipe that
holds them, with loading and ``--set`` overrides.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from skyt1.config.base import ConfigError, ModelSpec, Sampling, _Strict, rewrite_prompt_text, system_prompt_text
from skyt1.config.model_stages import BudgetForcing, EvaluateConfig, PreferenceConfig, SelfConsistency, TrainConfig
from skyt1.config.stages import CurateConfig, GenerateConfig, JudgeConfig, RayScoring, RewriteConfig, ScoreConfig

__all__ = [
    "BudgetForcing",
    "ConfigError",
    "CurateConfig",
    "EstimateConfig",
    "EvaluateConfig",
    "GenerateConfig",
    "JudgeConfig",
    "ModelSpec",
    "PreferenceConfig",
    "Prices",
    "RayScoring",
    "Recipe",
    "RewriteConfig",
    "Sampling",
    "ScoreConfig",
    "SelfConsistency",
    "TrainConfig",
    "apply_overrides",
    "load_recipe",
    "rewrite_prompt_text",
    "shipped_recipes",
    "system_prompt_text",
]


class EstimateConfig(_Strict):
    """Inputs of ``skyt1 cost``: what the training run will look like before it runs."""

    gpu: str = Field("H100", description="GPU type, a key of skyt1.hardware.GPUS")
    n_gpus: int = Field(8, ge=1)
    mfu: float = Field(0.35, gt=0, le=1, description="assumed model FLOPs utilization")
    n_params: float | None = Field(None, description="student parameters (None: counted from its config)")
    tokens_per_epoch: float | None = Field(
        None, description="training tokens per epoch (None: counted from the curated set)"
    )


class Prices(_Strict):
    cpu_hour: float = Field(0.04, description="$ per CPU core-hour")
    gpu_hour: dict[str, float] = Field(default_factory=lambda: {"H100": 2.5, "H200": 3.5, "A100-80GB": 1.8})
    api: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="model -> {input, output} $ per 1M tokens"
    )


class Recipe(_Strict):
    name: str = "recipe"
    description: str = ""
    run_dir: str = Field("runs/{name}", description="where stage directories go; {name} is the recipe name")
    threads: int = Field(1, ge=1, description="torch threads (on a busy 2-core box, 1 beats 2)")
    prices: Prices = Field(default_factory=Prices)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    score: ScoreConfig = Field(default_factory=ScoreConfig)
    rewrite: RewriteConfig = Field(default_factory=RewriteConfig)
    curate: CurateConfig = Field(default_factory=CurateConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    preference: PreferenceConfig | None = Field(None, description="SimPO after (or instead of) SFT: the Flash recipe")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    estimate: EstimateConfig = Field(default_factory=EstimateConfig)

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir.format(name=self.name))


def shipped_recipes() -> dict[str, Path]:
    root = resources.files("skyt1") / "recipes"
    return {p.name[:-5]: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def _parse_value(text: str) -> Any:
    """``--set`` values are YAML scalars/lists: 3, 1e-5, true, null, [a, b], 'text'."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected section.key=value")
        dotted, value = item.split("=", 1)
        node = data
        *parents, leaf = dotted.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {p!r} is not a section")
        node[leaf] = _parse_value(value)
    return data


def _describe(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{where}'")
        else:
            lines.append(f"{source}: '{where}': {e['msg']}")
    return "\n".join(lines)


def load_recipe(recipe: str | Path | None = None, overrides: list[str] | None = None) -> Recipe:
    """Load a recipe by shipped name or path (``None``: ``tiny``) and apply ``--set`` overrides."""
    shipped = shipped_recipes()
    name = str(recipe) if recipe is not None else "tiny"
    path = shipped[name] if name in shipped else Path(name)
    if not path.is_file():
        raise ConfigError(f"recipe {name!r}: no such file, and not a shipped recipe ({', '.join(sorted(shipped))})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: invalid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe is a mapping of sections")
    source = str(path)
    if overrides:
        data = apply_overrides(data, overrides)
        source += " (with --set " + ", ".join(overrides) + ")"
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None

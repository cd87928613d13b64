"""``skyt1 run RECIPE --dry-run``: everything about a recipe that can be checked without GPUs,
the hub or a model, and the plan it would run.

Checked: every mixture source resolves (a registered task and its split, a file that exists, or a
hub id with a valid spec; hub data is not downloaded), every backend is known, the training
batch arithmetic holds at the planned world size, the accelerate config parses with accelerate
itself and its DeepSpeed JSON is filled by transformers and accepted by DeepSpeed (when installed),
the launch command parses with ``accelerate launch``'s own parser, the decontamination and
evaluation tasks exist. ``check`` returns the plan's lines and the problems, each naming the
recipe key it is about.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["check"]


def check(recipe) -> tuple[list[str], list[str]]:
    """``(plan lines, problems)``; a recipe is ready when ``problems`` is empty."""
    lines: list[str] = [f"recipe {recipe.name}: run directory {recipe.run_path}"]
    problems: list[str] = []
    for part in (_sources, _models, _training, _evaluation):
        try:
            part(recipe, lines, problems)
        except (ValueError, KeyError, FileNotFoundError) as e:
            problems.append(f"{part.__name__.strip('_')}: {e.args[0] if isinstance(e, KeyError) and e.args else e}")
    return lines, problems


def _sources(recipe, lines: list[str], problems: list[str]) -> None:
    from skyt1.curation.source_filters import label_specs
    from skyt1.curation.sources import source_task
    from skyt1.stages.generate import mixture

    g = recipe.generate
    lines.append(f"generate: {g.sampling.n} samples per problem, max {g.sampling.max_tokens} tokens, "
                 f"teacher {g.teacher.model} ({g.teacher.backend})")
    for i, spec in enumerate(mixture(g)):
        key = f"generate.sources[{i}] ({spec['name']})" if g.sources else "generate"
        plain = {k: v for k, v in spec.items() if k not in ("quota", "seed")}
        try:
            task = source_task(plain)
        except (ValueError, KeyError) as e:
            problems.append(f"{key}: {e.args[0] if isinstance(e, KeyError) and e.args else e}")
            continue
        split = spec.get("split") or "train"
        if split not in task.splits:
            problems.append(f"{key}.split: {split!r} is not a split of {task.name} ({', '.join(task.splits)})")
        if spec.get("path") and not Path(spec["path"]).is_file():
            problems.append(f"{key}.path: {spec['path']} does not exist")
        for j, labelled in enumerate(label_specs(spec)):
            try:
                source_task(labelled)
            except (ValueError, KeyError) as e:
                problems.append(f"{key}.labels.from[{j}]: {e.args[0] if isinstance(e, KeyError) and e.args else e}")
        where = f"hub {spec['hub']}" if spec.get("hub") else task.source or task.name
        size = spec.get("quota") or spec.get("limit") or "all"
        picks = [f"rows {spec['rows']}"] if spec.get("rows") else []
        picks += [f"{k}={v}" for k, v in (spec.get("filters") or {}).items()]
        if spec.get("labels"):
            picks.insert(0, f"{', '.join(spec['labels']['copy'])} joined from "
                            + ", ".join(x.get("task") or x.get("hub") or x.get("path") for x in label_specs(spec)))
        lines.append(f"  source {spec['name']}: {size} problems, split {split}, verifier {task.verifier}, from {where}"
                     + (f"; {'; '.join(picks)}" if picks else ""))


def _models(recipe, lines: list[str], problems: list[str]) -> None:
    from skyt1.backends import BACKENDS

    specs = {"generate.teacher": recipe.generate.teacher, "train.base": (recipe.preference or recipe.train).base}
    if recipe.rewrite.mode == "llm":
        if recipe.rewrite.rewriter is None:
            problems.append("rewrite.rewriter: llm mode needs a rewriter model")
        else:
            specs["rewrite.rewriter"] = recipe.rewrite.rewriter
    if recipe.score.judge is not None:
        specs["score.judge.model"] = recipe.score.judge.model
    for key, spec in specs.items():
        info = BACKENDS[spec.backend]
        module = info.target.split(":")[0]
        note = ""
        if spec.backend == "vllm" and importlib.util.find_spec("vllm") is None:
            note = " (vllm is not installed here: pip install 'skyt1[vllm]' on the GPU machines)"
        if info.bills_tokens and spec.model not in recipe.prices.api and "base_url" not in spec.args:
            problems.append(f"{key}: {spec.model} is billed per token but prices.api has no price for it")
        lines.append(f"{key}: {spec.model} via {spec.backend} ({module}){note}")


def _training(recipe, lines: list[str], problems: list[str]) -> None:
    from skyt1.launch import launch_command, resolve_config
    from skyt1.stages.trainer import global_batch

    section = "preference" if recipe.preference is not None else "train"
    cfg = recipe.preference or recipe.train
    world = cfg.world_size
    try:
        batch = global_batch(cfg, world_size=world)
    except ValueError as e:
        problems.append(f"{section}.global_batch_size: {e}")
        batch = None
    lines.append(f"{section}: {cfg.method} fine-tuning of {cfg.base.model}, {cfg.epochs:g} epochs, lr {cfg.learning_rate:g}, "
                 f"global batch {batch} = {cfg.per_device_batch_size} x {cfg.gradient_accumulation_steps} x {world} "
                 f"processes ({cfg.processes or max(cfg.num_gpus, 1)} per node x {cfg.num_nodes} nodes)")
    if world == 1:
        lines.append(f"{section}: one process, no launcher")
        return
    name = cfg.accelerate_config or "ddp"
    try:
        path = resolve_config(name)
    except FileNotFoundError as e:
        problems.append(f"{section}.accelerate_config: {e}")
        return
    _accelerate_config(path, f"{section}.accelerate_config", problems)
    cmd = launch_command(name, cfg.processes or max(cfg.num_gpus, 1), cfg.num_nodes,
                         main_process_ip="MAIN_NODE_IP" if cfg.num_nodes > 1 else None,
                         script_args=["--recipe", f"{recipe.run_path / section / 'recipe.yaml'}"])
    from accelerate.commands.launch import launch_command_parser

    launch_command_parser().parse_args(cmd[3:])
    lines.append(f"{section}: launches (node 0): {' '.join(cmd)}")


def _accelerate_config(path: Path, key: str, problems: list[str]) -> None:
    """Parse with accelerate; fill and validate a DeepSpeed JSON with transformers and DeepSpeed."""
    from accelerate.commands.config.config_args import load_config_from_file

    from skyt1.launch import deepspeed_config_file

    load_config_from_file(str(path))
    ds_json = deepspeed_config_file(path)
    if ds_json is None or importlib.util.find_spec("deepspeed") is None:
        return
    import json
    import types

    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import Qwen2Config
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    # One process's view (DeepSpeed checks the batch against the uninitialised world of 1); the
    # global batch is checked above. A stand-in model config fills the size-dependent "auto"s.
    args = types.SimpleNamespace(
        world_size=1, per_device_train_batch_size=1, gradient_accumulation_steps=1, max_grad_norm=1.0,
        learning_rate=1e-5, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, weight_decay=0.0,
        save_on_each_node=False, fp16=False, fp16_full_eval=False, bf16=True, bf16_full_eval=False,
        get_warmup_steps=lambda n: 0)
    try:
        hf = HfTrainerDeepSpeedConfig(json.loads(ds_json.read_text(encoding="utf-8")))
        hf.trainer_config_process(args)
        hf.trainer_config_finalize(args, types.SimpleNamespace(config=Qwen2Config(hidden_size=1024)), 100)
        DeepSpeedConfig(hf.config)
    except Exception as e:  # DeepSpeed's and transformers' own validation errors
        problems.append(f"{key}: {ds_json.name} is rejected by DeepSpeed: {e}")


def _hub_only(task) -> bool:
    """No bundled copy: the task's data comes from the hub alone (``Task.source``)."""
    return task.source.startswith("hub") and "bundled data/" not in task.source


def _evaluation(recipe, lines: list[str], problems: list[str]) -> None:
    from skyt1.stages.evaluate import models_of
    from skyt1.tasks import registry

    tasks = registry()
    for key, names in (("evaluate.tasks", recipe.evaluate.tasks), ("curate.decontaminate", recipe.curate.decontaminate)):
        for name in names:
            if name.split(":")[0] not in tasks:
                problems.append(f"{key}: unknown task {name!r}")
    decon = recipe.curate.decontaminate
    if decon:
        hub = [n for n in decon if n.split(":")[0] in tasks and _hub_only(tasks[n.split(":")[0]])]
        lines.append(f"curate decontaminates against {', '.join(decon)}" + (
            f"; hub only, so the curate stage needs the hub (it stops rather than skip one): {', '.join(hub)}"
            if hub else ""))
    for label, spec in models_of(recipe).items():
        lines.append(f"evaluate {label}: {spec.model} via {spec.backend} on {', '.join(recipe.evaluate.tasks)}, "
                     f"max {recipe.evaluate.sampling.max_tokens} tokens")

"""The ``accelerate launch`` command line for multi-GPU training, and the shipped accelerate configs.

Shipped configs live in ``skyt1/recipes/accelerate/`` (see each file's header):

- ``ddp``: plain data parallelism; on a machine without CUDA the ranks run on the CPU over gloo
  (the CPU rehearsal trains this way);
- ``zero3``: DeepSpeed ZeRO-3, settings in ``ds_zero3.json``;
- ``zero3_offload``: DeepSpeed ZeRO-3 with parameter and optimizer offload to CPU, settings in
  ``ds_zero3_offload.json`` -- what Sky-T1-32B-Preview was trained with;
- ``fsdp2``: PyTorch FSDP2 full sharding, transformer-block wrapping, bf16, activation checkpointing;
  on a machine without CUDA the ranks shard on the CPU over gloo (``skyt1.stages.fsdp_cpu``).

A DeepSpeed yaml names its JSON relative to itself; accelerate would resolve that path against the
working directory, so ``launch_command`` passes it as an absolute ``--deepspeed_config_file``
(an explicit flag overrides the yaml's value in ``accelerate launch``).
Flags are those of ``accelerate launch --help`` (accelerate >= 1.0).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

__all__ = ["LaunchError", "deepspeed_config_file", "launch_command", "resolve_config", "run_launch", "shipped_configs"]

TRAIN_MODULE = "skyt1.stages.train"


def shipped_configs() -> dict[str, Path]:
    """Shipped accelerate configs by name (``zero3``, ``zero3_offload``, ``fsdp2``) -> yaml path."""
    root = resources.files("skyt1") / "recipes" / "accelerate"
    return {p.name[: -len(".yaml")]: Path(str(p)) for p in root.iterdir() if p.name.endswith(".yaml")}


def resolve_config(accelerate_config: str | Path) -> Path:
    """A shipped config's name, or a path to an accelerate yaml -> the yaml's path."""
    shipped = shipped_configs()
    if str(accelerate_config) in shipped:
        return shipped[str(accelerate_config)]
    path = Path(accelerate_config)
    if not path.is_file():
        raise FileNotFoundError(
            f"accelerate config {accelerate_config!r} is neither a shipped config ({', '.join(sorted(shipped))}) "
            "nor an existing file"
        )
    return path


def deepspeed_config_file(config_path: Path) -> Path | None:
    """The DeepSpeed JSON a config names (``deepspeed_config.deepspeed_config_file``), made absolute.

    A relative name is looked up next to the yaml first, then in the working directory; None when
    the config names no JSON (not DeepSpeed, or DeepSpeed configured inline).
    """
    import yaml

    data = yaml.safe_load(Path(config_path).read_text(encoding="utf-8")) or {}
    name = (data.get("deepspeed_config") or {}).get("deepspeed_config_file")
    if not name:
        return None
    candidate = Path(name)
    if not candidate.is_absolute():
        beside = Path(config_path).parent / candidate
        candidate = beside if beside.is_file() else candidate
    if not candidate.is_file():
        raise FileNotFoundError(f"{config_path} names DeepSpeed config {name!r}, which does not exist")
    return candidate.resolve()


def launch_command(accelerate_config: str | Path, num_gpus: int, num_nodes: int = 1, machine_rank: int = 0,
                   main_process_ip: str | None = None, script_args: Sequence[str] = (), *,
                   main_process_port: int = 29500, module: str = TRAIN_MODULE) -> list[str]:
    """argv for ``accelerate launch`` (as ``python -m accelerate.commands.launch``, so it is this
    interpreter's accelerate whatever ``PATH`` holds) running ``python -m skyt1.stages.train
    SCRIPT_ARGS`` on every GPU.

    ``num_gpus`` is GPUs per node; accelerate's ``--num_processes`` is the total, ``num_gpus *
    num_nodes``. With more than one node, run the same command on each node with its own
    ``machine_rank``; ``main_process_ip`` (rank 0's address) is then required.
    """
    if num_gpus < 1 or num_nodes < 1:
        raise ValueError("num_gpus and num_nodes must be >= 1")
    if not 0 <= machine_rank < num_nodes:
        raise ValueError(f"machine_rank {machine_rank} is outside 0..{num_nodes - 1}")
    if num_nodes > 1 and not main_process_ip:
        raise ValueError("a multi-node launch needs main_process_ip "
                         "(the address of machine_rank 0; skyt1 train --main-process-ip)")
    config = resolve_config(accelerate_config)
    cmd = [
        sys.executable, "-m", "accelerate.commands.launch",
        "--config_file", str(config.resolve()),
        "--num_processes", str(num_gpus * num_nodes),
        "--num_machines", str(num_nodes),
        "--machine_rank", str(machine_rank),
        "--main_process_port", str(main_process_port),
    ]
    if main_process_ip:
        cmd += ["--main_process_ip", main_process_ip]
    ds_json = deepspeed_config_file(config)
    if ds_json is not None:
        cmd += ["--deepspeed_config_file", str(ds_json)]
    return [*cmd, "-m", module, *script_args]


def _finished_by_this_launch(stage, started: float) -> bool:
    manifest = stage.manifest()
    return (manifest is not None and manifest.get("config_hash") == stage.hash
            and stage.manifest_path.stat().st_mtime >= started)


class LaunchError(RuntimeError):
    """A launched training run failed; the message names the failing rank and its error."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_launch(recipe, stage, *, machine_rank: int = 0, main_process_ip: str | None = None,
               main_process_port: int | None = None) -> dict:
    """Train ``stage`` in ``recipe.train.world_size`` processes: write the resolved recipe beside the
    stage (so every rank trains exactly what this process planned, ``--set`` overrides included),
    start ``accelerate launch`` with its output on this terminal, and wait.

    A rank that fails leaves ``<stage>/rank<R>.error`` (``skyt1.stages.rank.launched``); the
    ``LaunchError`` raised here quotes the first one written (torchrun's "root cause"), not the
    connection errors it caused in the other ranks. Rerunning after any crash, kill -9 of a rank
    or of the launcher included, resumes from the last complete checkpoint. A rank that fails
    after rank 0 wrote the stage's manifest (which it does last) gets a warning, not an error:
    the result is whole. Returns the summary the main rank wrote (on other nodes, the summary is
    rank 0's to write: ``{}``).
    """
    import yaml

    cfg = recipe.preference or recipe.train
    stage.dir.mkdir(parents=True, exist_ok=True)
    planned = stage.dir / "recipe.yaml"
    planned.write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    for old in stage.dir.glob("rank*.error"):
        old.unlink()
    port = main_process_port or (_free_port() if cfg.num_nodes == 1 else 29500)
    script_args = ["--recipe", str(planned), "--data", str(stage.inputs[0]), "--out", str(stage.dir)]
    cmd = launch_command(cfg.accelerate_config or "ddp", cfg.processes or max(cfg.num_gpus, 1), cfg.num_nodes,
                         machine_rank=machine_rank, main_process_ip=main_process_ip, main_process_port=port,
                         script_args=script_args)
    env = {**os.environ, "OMP_NUM_THREADS": str(recipe.threads)}
    started = time.time()
    code = subprocess.run(cmd, env=env).returncode
    if code != 0:
        # The first rank to fail is the cause; the others report the connection it closed.
        errors = sorted(stage.dir.glob("rank*.error"), key=lambda p: (p.stat().st_mtime_ns, int(p.stem[4:])))
        if errors:
            last = errors[0].read_text(encoding="utf-8").strip().splitlines()
            detail = f"{errors[0].stem} failed: {last[-1] if last else '?'} (traceback: {errors[0]})"
        else:
            detail = "no rank reported an error (killed?)"
        if not _finished_by_this_launch(stage, started):
            raise LaunchError(f"training in {cfg.world_size} processes exited with {code}: {detail}; "
                              "rerun the same command to resume from the last checkpoint")
        # Rank 0 writes the manifest last, once every rank has saved and reported: the result is whole.
        print(f"warning: training in {cfg.world_size} processes exited with {code} after the stage had "
              f"finished ({stage.manifest_path} written); the model and summary are complete. {detail}",
              file=sys.stderr)
    if machine_rank != 0 or not stage.summary_path.is_file():
        return {}
    return json.loads(stage.summary_path.read_text(encoding="utf-8"))

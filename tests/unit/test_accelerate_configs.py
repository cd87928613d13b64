"""Every shipped accelerate config is one accelerate (and, for DeepSpeed, transformers) would accept.

Without GPUs we run the real ``accelerate launch`` argument handling up to the point where it
would spawn processes (its launchers are replaced by a function that records the environment the
workers would get), then build accelerate's ``DeepSpeedPlugin`` / ``FullyShardedDataParallelPlugin``
from that environment exactly as the workers do. DeepSpeed JSON is checked against the keys
DeepSpeed documents (https://www.deepspeed.ai/docs/config-json/) and the ``"auto"`` values
transformers' ``HfTrainerDeepSpeedConfig`` fills; where deepspeed is importable, DeepSpeed's own
config classes validate the filled config too.
"""

from __future__ import annotations

import json
import os
from fnmatch import fnmatch
from pathlib import Path

import pytest
import yaml

from skyt1.launch import deepspeed_config_file, launch_command, resolve_config, shipped_configs

EXPECTED = {
    "zero3": {"type": "DEEPSPEED", "json": "ds_zero3.json", "offload": "none"},
    "zero3_offload": {"type": "DEEPSPEED", "json": "ds_zero3_offload.json", "offload": "cpu"},
    "fsdp2": {"type": "FSDP", "json": None, "offload": None},
}

# Keys of HF's DeepSpeed integration that may be "auto" (transformers.integrations.deepspeed:
# HfTrainerDeepSpeedConfig.trainer_config_process / trainer_config_finalize).
HF_AUTO_KEYS = {
    "train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping",
    "fp16.enabled", "bf16.enabled",
    "optimizer.params.lr", "optimizer.params.betas", "optimizer.params.eps", "optimizer.params.weight_decay",
    "scheduler.params.warmup_min_lr", "scheduler.params.warmup_max_lr", "scheduler.params.total_num_steps",
    "scheduler.params.warmup_num_steps",
    "zero_optimization.reduce_bucket_size", "zero_optimization.stage3_prefetch_bucket_size",
    "zero_optimization.stage3_param_persistence_threshold",
}
# DeepSpeed config-json documentation: top-level keys and the "ZeRO Optimizations" section.
DS_TOP_KEYS = {
    "train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping",
    "zero_allow_untested_optimizer", "bf16", "fp16", "zero_optimization", "steps_per_print",
    "wall_clock_breakdown", "optimizer", "scheduler", "communication_data_type", "prescale_gradients",
}
DS_ZERO_KEYS = {
    "stage", "allgather_partitions", "allgather_bucket_size", "overlap_comm", "reduce_scatter",
    "reduce_bucket_size", "contiguous_gradients", "offload_param", "offload_optimizer",
    "stage3_max_live_parameters", "stage3_max_reuse_distance", "stage3_prefetch_bucket_size",
    "stage3_param_persistence_threshold", "sub_group_size", "stage3_gather_16bit_weights_on_model_save",
    "round_robin_gradients", "zero_hpz_partition_size", "zero_quantized_weights", "zero_quantized_gradients",
}
DS_OFFLOAD_KEYS = {"device", "nvme_path", "pin_memory", "buffer_count", "buffer_size", "max_in_cpu", "ratio",
                   "fast_init", "pipeline_read", "pipeline_write"}


def _json(name: str) -> dict:
    return json.loads((shipped_configs()[name].parent / EXPECTED[name]["json"]).read_text())


def _autos(node: dict, prefix: str = "") -> set[str]:
    found = set()
    for key, value in node.items():
        if isinstance(value, dict):
            found |= _autos(value, f"{prefix}{key}.")
        elif value == "auto":
            found.add(prefix + key)
    return found


def test_shipped_configs_are_found():
    configs = shipped_configs()
    assert set(configs) == set(EXPECTED) | {"ddp"}  # ddp: the CPU rehearsal's, tested below
    assert all(p.is_file() for p in configs.values())
    assert resolve_config("fsdp2") == configs["fsdp2"]
    with pytest.raises(FileNotFoundError):
        resolve_config("zero4")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_yaml_loads_into_accelerates_config_class(name):
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
    from accelerate.utils import DistributedType

    path = shipped_configs()[name]
    text = path.read_text()
    assert text.startswith("#") and "Run" in text  # opens with what it does and how to run it
    config = load_config_from_file(str(path))  # rejects unknown top-level keys
    assert isinstance(config, ClusterConfig)
    assert config.distributed_type == DistributedType[EXPECTED[name]["type"]]
    assert config.num_machines == 1 and config.num_processes == 8 and not config.use_cpu
    if EXPECTED[name]["json"]:
        # accelerate refuses `mixed_precision` next to a deepspeed_config_file; precision is in the JSON.
        assert config.mixed_precision is None
        assert config.deepspeed_config["deepspeed_config_file"] == EXPECTED[name]["json"]
        assert config.deepspeed_config["zero3_init_flag"] is True
        assert config.deepspeed_config["deepspeed_multinode_launcher"] == "standard"  # not pdsh
    else:
        assert config.mixed_precision == "bf16"


@pytest.mark.parametrize("name", ["zero3", "zero3_offload"])
def test_deepspeed_json_stage_offload_and_autos(name):
    cfg = _json(name)
    zero = cfg["zero_optimization"]
    assert zero["stage"] == 3
    assert zero["stage3_gather_16bit_weights_on_model_save"] is True  # save_model writes usable weights
    device = EXPECTED[name]["offload"]
    assert zero.get("offload_param", {}).get("device", "none") == device
    assert zero.get("offload_optimizer", {}).get("device", "none") == device
    if device == "cpu":
        assert zero["offload_param"]["pin_memory"] and zero["offload_optimizer"]["pin_memory"]
    # Batch, clipping and precision follow TrainingArguments; every "auto" is one HF fills.
    autos = _autos(cfg)
    assert {"train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps",
            "gradient_clipping", "bf16.enabled"} <= autos
    assert autos <= HF_AUTO_KEYS
    # No optimizer/scheduler blocks: the Trainer's AdamW and schedule are used, as in Sky-T1's run.
    assert "optimizer" not in cfg and "scheduler" not in cfg and cfg["zero_allow_untested_optimizer"] is True
    assert set(cfg) <= DS_TOP_KEYS
    assert set(zero) <= DS_ZERO_KEYS
    for section in ("offload_param", "offload_optimizer"):
        assert set(zero.get(section, {})) <= DS_OFFLOAD_KEYS


def test_offload_json_mirrors_sky_t1s_llama_factory_config():
    """Sky-T1 used its LLaMA-Factory fork's examples/deepspeed/ds_z3_offload_config.json
    (NovaSky-AI/SkyThought skythought/train/LLaMA-Factory/); ours adds only DeepSpeed's print
    frequency (steps_per_print, wall_clock_breakdown). The whole file is checked key by key in
    test_published_settings.py."""
    zero = _json("zero3_offload")["zero_optimization"]
    assert zero == {
        "stage": 3,
        "offload_optimizer": {"device": "cpu", "pin_memory": True},
        "offload_param": {"device": "cpu", "pin_memory": True},
        "overlap_comm": True,
        "contiguous_gradients": True,
        "sub_group_size": 1e9,
        "reduce_bucket_size": "auto",
        "stage3_prefetch_bucket_size": "auto",
        "stage3_param_persistence_threshold": "auto",
        "stage3_max_live_parameters": 1e9,
        "stage3_max_reuse_distance": 1e9,
        "stage3_gather_16bit_weights_on_model_save": True,
    }


@pytest.mark.parametrize("name", ["zero3", "zero3_offload"])
def test_deepspeed_json_fills_and_validates_with_deepspeed(name):
    """With deepspeed installed: transformers fills every "auto" and DeepSpeed accepts the result."""
    pytest.importorskip("deepspeed")
    import types

    from deepspeed.runtime.config import DeepSpeedConfig
    from transformers import Qwen2Config
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    # world_size 1: DeepSpeedConfig checks train_batch_size against the (uninitialised, 1) world.
    args = types.SimpleNamespace(
        world_size=1, per_device_train_batch_size=1, gradient_accumulation_steps=12, max_grad_norm=1.0,
        learning_rate=1e-5, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, weight_decay=0.0,
        save_on_each_node=False, fp16=False, fp16_full_eval=False, bf16=True, bf16_full_eval=False,
        get_warmup_steps=lambda n: 0,
    )
    hf = HfTrainerDeepSpeedConfig(_json(name))
    hf.trainer_config_process(args)
    hf.trainer_config_finalize(args, types.SimpleNamespace(config=Qwen2Config(hidden_size=5120)), 531)
    assert _autos(hf.config) == set()
    assert hf.config["zero_optimization"]["reduce_bucket_size"] == 5120 * 5120
    ds = DeepSpeedConfig(hf.config)
    assert ds.zero_optimization_stage == 3
    assert ds.train_batch_size == 12


def _launch_env(monkeypatch, argv: list[str]) -> dict[str, str]:
    """Run accelerate's real `accelerate launch` handling of ``argv``; return the workers' env vars."""
    import accelerate.commands.launch as launch_mod
    from accelerate.utils import launch as launch_utils

    captured: dict[str, str] = {}

    def fake_deepspeed(args):
        captured.update(launch_utils.prepare_deepspeed_cmd_env(args)[1])

    def fake_multi_gpu(args):
        captured.update(launch_utils.prepare_multi_gpu_env(args))

    monkeypatch.setattr(launch_mod, "deepspeed_launcher", fake_deepspeed)
    monkeypatch.setattr(launch_mod, "multi_gpu_launcher", fake_multi_gpu)
    args = launch_mod.launch_command_parser().parse_args(argv)
    launch_mod.launch_command(args)
    assert captured, "accelerate did not reach a multi-GPU launcher"
    return {k: v for k, v in captured.items() if k.startswith(("ACCELERATE_", "FSDP_"))}


@pytest.fixture
def clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith(("ACCELERATE_", "FSDP_")):
            monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize("name", ["zero3", "zero3_offload"])
def test_deepspeed_plugin_from_a_dry_launch(clean_env, name):
    from accelerate.utils import DeepSpeedPlugin

    argv = launch_command(name, num_gpus=8, script_args=["--recipe", "x"])[3:]
    env = _launch_env(clean_env, argv)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    assert Path(env["ACCELERATE_DEEPSPEED_CONFIG_FILE"]).is_absolute()
    for key, value in env.items():
        clean_env.setenv(key, value)
    plugin = DeepSpeedPlugin()  # what Accelerator/TrainingArguments build in each worker
    plugin.set_mixed_precision("bf16")  # TrainingArguments(bf16=True)
    offload = EXPECTED[name]["offload"]
    assert plugin.zero_stage == 3
    assert plugin.zero3_init_flag is True
    assert plugin.zero3_save_16bit_model is True
    assert plugin.offload_param_device == offload and plugin.offload_optimizer_device == offload
    assert plugin.deepspeed_config["bf16"]["enabled"] is True
    assert plugin.deepspeed_config["fp16"]["enabled"] is False


def test_fsdp2_plugin_from_a_dry_launch(clean_env):
    from accelerate.utils import FullyShardedDataParallelPlugin
    from torch.distributed.fsdp.wrap import transformer_auto_wrap_policy

    env = _launch_env(clean_env, launch_command("fsdp2", num_gpus=8)[3:])
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["ACCELERATE_MIXED_PRECISION"] == "bf16"
    for key, value in env.items():
        clean_env.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2
    assert plugin.reshard_after_forward is True  # FSDP2's FULL_SHARD
    assert plugin.auto_wrap_policy is transformer_auto_wrap_policy
    assert plugin.transformer_cls_names_to_wrap is None  # -> the model's _no_split_modules
    assert plugin.activation_checkpointing is True
    assert plugin.cpu_ram_efficient_loading is True
    assert "SHARDED_STATE_DICT" in str(plugin.state_dict_type)
    assert plugin.cpu_offload is not None and "CPUOffloadPolicy" not in type(plugin.cpu_offload).__name__


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_launch_command_is_valid_accelerate_argv(name):
    from accelerate.commands.launch import launch_command_parser

    cmd = launch_command(name, num_gpus=8, num_nodes=2, machine_rank=1, main_process_ip="10.0.0.1",
                         script_args=["--recipe", "sky-t1-32b-preview"])
    assert cmd[1:3] == ["-m", "accelerate.commands.launch"]
    args = launch_command_parser().parse_args(cmd[3:])
    assert args.num_processes == 16 and args.num_machines == 2 and args.machine_rank == 1
    assert args.main_process_ip == "10.0.0.1"
    assert args.module and args.training_script == "skyt1.stages.train"
    assert args.training_script_args == ["--recipe", "sky-t1-32b-preview"]
    assert Path(args.config_file) == shipped_configs()[name].resolve()
    if EXPECTED[name]["json"]:
        ds = Path(args.deepspeed_config_file)
        assert ds.is_absolute() and ds.name == EXPECTED[name]["json"] and ds.is_file()
    else:
        assert args.deepspeed_config_file is None


def test_launch_command_checks_its_arguments(tmp_path):
    with pytest.raises(ValueError, match="main_process_ip"):
        launch_command("zero3", num_gpus=8, num_nodes=2)
    with pytest.raises(ValueError, match="machine_rank"):
        launch_command("zero3", num_gpus=8, num_nodes=2, machine_rank=2, main_process_ip="h")
    with pytest.raises(ValueError):
        launch_command("zero3", num_gpus=0)
    # A user's own yaml: a relative JSON is found beside it.
    (tmp_path / "my_ds.json").write_text(json.dumps({"zero_optimization": {"stage": 2}}))
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump({"distributed_type": "DEEPSPEED",
                                    "deepspeed_config": {"deepspeed_config_file": "my_ds.json"}}))
    assert deepspeed_config_file(mine) == (tmp_path / "my_ds.json").resolve()
    assert launch_command(str(mine), num_gpus=2)[-2:] == ["-m", "skyt1.stages.train"]
    (tmp_path / "my_ds.json").unlink()
    with pytest.raises(FileNotFoundError):
        launch_command(str(mine), num_gpus=2)


def test_package_data_ships_every_accelerate_file():
    """A wheel must carry the DeepSpeed JSON the yamls name, not only the yamls."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["skyt1"]
    accelerate_dir = root / "src" / "skyt1" / "recipes" / "accelerate"
    missing = [p.name for p in accelerate_dir.iterdir() if p.is_file() and not any(
        fnmatch(str(p.relative_to(root / "src" / "skyt1")), pat) for pat in patterns)]
    assert not missing, f"add 'recipes/accelerate/*.json' to [tool.setuptools.package-data] skyt1; missing: {missing}"


def test_ddp_config_runs_on_the_cpu_through_torchrun():
    """``ddp`` (the rehearsal's): accelerate's multi-GPU launcher, which on a machine without CUDA
    starts CPU ranks over gloo; two processes by default, precision left to TrainingArguments."""
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file
    from accelerate.utils import DistributedType

    path = shipped_configs()["ddp"]
    assert path.read_text().startswith("#") and "Run" in path.read_text()
    config = load_config_from_file(str(path))
    assert isinstance(config, ClusterConfig) and config.distributed_type == DistributedType.MULTI_GPU
    assert config.num_processes == 2 and not config.use_cpu and deepspeed_config_file(path) is None

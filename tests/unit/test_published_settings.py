"""The shipped 32B recipes, their accelerate/DeepSpeed files and bundled texts hold every setting
NovaSky published for Sky-T1-32B-Preview and Sky-T1-32B-Flash.

Each row of the tables below names the setting in skyt1, the published value and the file of
NovaSky-AI/SkyThought (https://github.com/NovaSky-AI/SkyThought, read at commit 0d190f1) it
comes from, with the key or sentence there. Sky-T1 trained with SkyThought's LLaMA-Factory fork
(``skythought/train/LLaMA-Factory``, version 0.9.2.dev0), so settings a training YAML leaves
unset are that fork's defaults, cited to the file that defines them.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import pytest
import yaml

from skyt1.config import load_recipe

LF = "skythought/train/LLaMA-Factory"
SFT = f"{LF}/examples/train_full/qwen2_full_sft.yaml"
SIMPO = f"{LF}/examples/train_full/qwen2_full_simpo.yaml"
DS_Z3_OFFLOAD = f"{LF}/examples/deepspeed/ds_z3_offload_config.json"
DS_Z3 = f"{LF}/examples/deepspeed/ds_z3_config.json"
MODEL_ARGS = f"{LF}/src/llamafactory/hparams/model_args.py"
FT_ARGS = f"{LF}/src/llamafactory/hparams/finetuning_args.py"
TEMPLATE = f"{LF}/src/llamafactory/data/template.py"
PREVIEW_README = "recipes/sky-t1-preview/README.md"
FLASH_README = "recipes/sky-t1-flash/README.md"
PROMPTS = "scripts/prompts.py"  # = skythought/tools/util/prompts.py of the first release (0751518)
CONVERT = "scripts/convert_format.py"  # = skythought/tools/convert_format.py of the first release
TO_DATA = "scripts/convert_to_data.py"  # = skythought/tools/convert_to_data.py of the first release
TRAIN_README = "skythought/train/README.md"

P, F = "sky-t1-32b-preview", "sky-t1-32b-flash"
# (recipe, skyt1 setting, published value, SkyThought file, where in it)
RECIPE_ROWS = [
    (P, "train.base.model", "Qwen/Qwen2.5-32B-Instruct", SFT, "model_name_or_path"),
    (P, "train.method", "full", SFT, "finetuning_type: full"),
    (P, "train.chat_template", "qwen25", SFT, "template: qwen25"),
    (P, "train.max_seq_length", 16384, SFT, "cutoff_len"),
    (P, "train.epochs", 3.0, SFT, "num_train_epochs (README: 3 epochs)"),
    (P, "train.learning_rate", 1e-5, SFT, "learning_rate (README: 1e-5)"),
    (P, "train.per_device_batch_size", 1, SFT, "per_device_train_batch_size"),
    (P, "train.gradient_accumulation_steps", 12, SFT, "gradient_accumulation_steps"),
    (P, "train.num_gpus", 8, PREVIEW_README, "19 hours on 8 H100 GPUs"),
    (P, "global_batch", 96, PREVIEW_README, "a batch size of 96 (= 1 x 12 x 8)"),
    (P, "train.lr_scheduler", "cosine", SFT, "lr_scheduler_type"),
    (P, "train.warmup_ratio", 0.1, SFT, "warmup_ratio"),
    (P, "train.bf16", True, SFT, "bf16"),
    (P, "train.save_steps", 100, SFT, "save_steps"),
    (P, "train.ddp_timeout", 180000000, SFT, "ddp_timeout"),
    (P, "train.accelerate_config", "zero3_offload", SFT, "deepspeed: examples/deepspeed/ds_z3_offload_config.json"),
    (P, "train.gradient_checkpointing", True, MODEL_ARGS, "disable_gradient_checkpointing default False"),
    (P, "train.weight_decay", 0.0, SFT, "not set: TrainingArguments' default 0.0"),
    (P, "train.seed", 42, SFT, "not set: TrainingArguments' default 42"),
    (P, "train.base.system_prompt", "sky-t1", TO_DATA, '"system": system_prompt in every training example'),
    (P, "curate.system_prompt", "sky-t1", TO_DATA, '"system": system_prompt in every training example'),
    (P, "generate.teacher.model", "Qwen/QwQ-32B-Preview", PREVIEW_README, "skythought generate ... --model"),
    (P, "generate.sampling.max_tokens", 16384, PREVIEW_README, "--sampling-params max_tokens=16384"),
    (P, "rewrite.mode", "llm", PREVIEW_README, "Step 2: This uses GPT-4o-mini to rewrite"),
    (P, "rewrite.rewriter.model", "gpt-4o-mini", CONVERT, 'model="gpt-4o-mini"'),
    (P, "rewrite.prompt", "sky-t1", CONVERT, "convert_prompt.format(example=convert_prompt_example, content=...)"),
    (P, "rewrite.max_tokens", 16384, CONVERT, "max_tokens=16384"),
    (P, "rewrite.temperature", 0.7, CONVERT, "temperature=0.7"),
    (P, "rewrite.system_prompt", "You are a solution format convertor.", CONVERT,
     '{"role": "system", "content": "You are a solution format convertor."}'),
    (F, "preference.base.model", "NovaSky-AI/Sky-T1-32B-Preview", SIMPO, "model_name_or_path"),
    (F, "preference.method", "full", SIMPO, "finetuning_type: full"),
    (F, "preference.chat_template", "qwen25", SIMPO, "template: qwen25"),
    (F, "preference.beta", 2.0, SIMPO, "pref_beta"),
    (F, "preference.gamma", 0.3, SIMPO, "simpo_gamma"),
    (F, "preference.cpo_alpha", 0.0, FT_ARGS, "pref_ftx default 0.0 (pref_loss: simpo)"),
    (F, "preference.max_seq_length", 16384, SIMPO, "cutoff_len"),
    (F, "preference.epochs", 1.0, SIMPO, "num_train_epochs"),
    (F, "preference.learning_rate", 5e-7, SIMPO, "learning_rate"),
    (F, "preference.per_device_batch_size", 1, SIMPO, "per_device_train_batch_size"),
    (F, "preference.gradient_accumulation_steps", 12, SIMPO, "gradient_accumulation_steps"),
    (F, "preference.num_gpus", 8, FLASH_README, "8 GPUs (blog: 8xH100)"),
    (F, "preference.lr_scheduler", "cosine", SIMPO, "lr_scheduler_type"),
    (F, "preference.warmup_ratio", 0.1, SIMPO, "warmup_ratio"),
    (F, "preference.bf16", True, SIMPO, "bf16"),
    (F, "preference.save_steps", 100, SIMPO, "save_steps"),
    (F, "preference.ddp_timeout", 180000000, SIMPO, "ddp_timeout"),
    (F, "preference.accelerate_config", "zero3_offload", SIMPO, "deepspeed: .../ds_z3_offload_config.json"),
    (F, "preference.gradient_checkpointing", True, MODEL_ARGS, "disable_gradient_checkpointing default False"),
    (F, "preference.base.system_prompt", "sky-t1", FLASH_README, "Sky-T1-32B-Preview's responses (its prompt)"),
    (F, "generate.teacher.model", "NovaSky-AI/Sky-T1-32B-Preview", FLASH_README, "We used Sky-T1-32B-Preview"),
    (F, "generate.sampling.n", 8, FLASH_README, "generated 8 responses"),
    (F, "generate.sampling.temperature", 1.0, FLASH_README, "a temperature of 1.0"),
]

ACCELERATE = "src/skyt1/recipes/accelerate"
# (shipped file, key, published value, SkyThought file, where in it)
ACCELERATE_ROWS = [
    ("zero3_offload.yaml", "distributed_type", "DEEPSPEED", SFT, "deepspeed: ds_z3_offload_config.json"),
    ("zero3_offload.yaml", "deepspeed_config.deepspeed_config_file", "ds_zero3_offload.json", SFT, "deepspeed"),
    ("zero3_offload.yaml", "num_processes", 8, PREVIEW_README, "8 H100 GPUs"),
    ("zero3_offload.yaml", "num_machines", 1, TRAIN_README, "FORCE_TORCHRUN=1 NNODES=1 ... llamafactory-cli train"),
]

# The published DeepSpeed files, copied key for key. skyt1's add only DeepSpeed's logging keys.
PUBLISHED_DS_Z3 = {
    "train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto", "zero_allow_untested_optimizer": True,
    "fp16": {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000, "initial_scale_power": 16,
             "hysteresis": 2, "min_loss_scale": 1},
    "bf16": {"enabled": "auto"},
    "zero_optimization": {
        "stage": 3, "overlap_comm": True, "contiguous_gradients": True, "sub_group_size": 1e9,
        "reduce_bucket_size": "auto", "stage3_prefetch_bucket_size": "auto",
        "stage3_param_persistence_threshold": "auto", "stage3_max_live_parameters": 1e9,
        "stage3_max_reuse_distance": 1e9, "stage3_gather_16bit_weights_on_model_save": True,
    },
}
OFFLOAD = {"device": "cpu", "pin_memory": True}
PUBLISHED_DS_Z3_OFFLOAD = {**PUBLISHED_DS_Z3, "zero_optimization": {
    **PUBLISHED_DS_Z3["zero_optimization"], "offload_optimizer": OFFLOAD, "offload_param": OFFLOAD}}
LOGGING_ONLY = {"steps_per_print", "wall_clock_breakdown"}

# Bundled texts, verbatim: sha256 of the file as shipped (computed from the SkyThought source).
TEXT_ROWS = [
    ("data/prompts/sky_t1_system_prompt.txt", "c5ae4aa0b0d6fcadd6fa8977f5e55b1f2dccb7582bd05b80385e2f22650a9f8d",
     PROMPTS, "system_prompt"),
    ("data/prompts/sky_t1_rewrite_prompt.txt", "c242ebd5d220ba6451fb7f37c04b16cf948d5b5a5eeb9e5dbeef4f6fd112b6a2",
     PROMPTS, 'convert_prompt.format(example=convert_prompt_example, content="{response}")'),
]


def _get(recipe, key: str):
    if key == "global_batch":
        cfg = recipe.train
        return cfg.per_device_batch_size * cfg.gradient_accumulation_steps * cfg.world_size
    value = recipe
    for part in key.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("recipe", "key", "published", "source", "where"), RECIPE_ROWS,
                         ids=[f"{r}:{k}" for r, k, *_ in RECIPE_ROWS])
def test_recipe_setting_is_the_published_one(recipe, key, published, source, where):
    value = _get(load_recipe(recipe), key)
    assert value == published, f"{recipe} {key} = {value!r}; NovaSky-AI/SkyThought {source} ({where}): {published!r}"
    assert type(value) is type(published) or isinstance(published, float)


@pytest.mark.parametrize(("name", "key", "published", "source", "where"), ACCELERATE_ROWS,
                         ids=[f"{n}:{k}" for n, k, *_ in ACCELERATE_ROWS])
def test_accelerate_setting_is_the_published_one(name, key, published, source, where):
    value = yaml.safe_load((resources.files("skyt1") / "recipes" / "accelerate" / name).read_text())
    for part in key.split("."):
        value = value[part]
    assert value == published, f"{ACCELERATE}/{name} {key} = {value!r}; SkyThought {source} ({where}): {published!r}"


@pytest.mark.parametrize(("name", "published", "source"), [
    ("ds_zero3_offload.json", PUBLISHED_DS_Z3_OFFLOAD, DS_Z3_OFFLOAD),
    ("ds_zero3.json", PUBLISHED_DS_Z3, DS_Z3),
])
def test_deepspeed_json_is_the_published_file_key_for_key(name, published, source):
    ours = json.loads((resources.files("skyt1") / "recipes" / "accelerate" / name).read_text())
    assert set(ours) - set(published) <= LOGGING_ONLY, f"{name}: keys SkyThought's {source} lacks"
    assert {k: v for k, v in ours.items() if k not in LOGGING_ONLY} == published, f"{name} differs from {source}"


@pytest.mark.parametrize(("path", "sha256", "source", "where"), TEXT_ROWS, ids=[Path(r[0]).name for r in TEXT_ROWS])
def test_bundled_text_is_verbatim(path, sha256, source, where):
    data = (resources.files("skyt1") / path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == sha256, f"{path} is no longer SkyThought's {source} ({where})"


def test_the_rewrite_prompt_fills_only_the_trace():
    """SkyThought's convert prompt carries the trace alone (no question); render_prompt puts the
    trace in once and leaves every other brace of the worked example (\\boxed{12}) alone."""
    from skyt1.config import rewrite_prompt_text
    from skyt1.stages.rewrite import render_prompt

    text = rewrite_prompt_text("sky-t1")
    assert text.startswith("Another solution is written in an unstructured way.")
    assert text.endswith("Content to be converted: {response}") and "{question}" not in text
    out = render_prompt(text, {"question": "Q", "response": "THE TRACE"})
    assert out.endswith("Content to be converted: THE TRACE") and "\\boxed{12}" in out and "{response}" not in out
    assert load_recipe(P).rewrite.template == text


def test_the_published_settings_reach_training_arguments(tmp_path):
    """The recipe's values are the ones transformers trains with (TrainingArguments as SFT and
    SimPO build them), ddp_timeout and save_steps included."""
    from transformers import TrainingArguments

    from skyt1.stages.trainer import trainer_args

    for cfg in (load_recipe(P).train, load_recipe(F).preference):
        args = TrainingArguments(**trainer_args(cfg, tmp_path, bf16=False, cuda=False))
        assert args.ddp_timeout == 180000000 and args.save_steps == 100
        assert (args.learning_rate, args.num_train_epochs) == (cfg.learning_rate, cfg.epochs)
        assert (args.per_device_train_batch_size, args.gradient_accumulation_steps) == (1, 12)
        assert args.lr_scheduler_type == "cosine" and args.warmup_steps == 0.1 and args.seed == 42

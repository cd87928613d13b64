"""Machinery shared by the training stages (``train``: SFT, ``preference``: SimPO): batch
arithmetic, hardware-dependent choices (flash-attention, Liger, padding-free), checkpoints and
resume, saving (LoRA merged), progress, and the one fit both run. The entry
point every rank runs under ``accelerate launch`` is ``skyt1.stages.rank``. See
``skyt1.stages.train`` for the contracts.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib.util import find_spec
from pathlib import Path

from skyt1.config import TrainConfig
from skyt1.stages.rank import is_main_rank
from skyt1.stages.train_metrics import mfu_summary, rank_facts

__all__ = [
    "attn_implementation", "checkpoint_epoch", "cuda_available", "end_of_turn_token",
    "every_rank_before_trainer_state", "fit", "global_batch", "last_checkpoint", "load_dtype", "lora_config",
    "resume_point", "save_model", "show_progress", "trainer_args", "use_liger", "use_padding_free",
]

HASH_FILE = "skyt1_config_hash"


def global_batch(cfg: TrainConfig, world_size: int | None = None) -> int:
    """Per-device batch x gradient accumulation x world size (``WORLD_SIZE``, else 1); a
    ``ValueError`` naming every factor when the recipe's ``global_batch_size`` disagrees."""
    world = world_size or int(os.environ.get("WORLD_SIZE", "1"))
    total = cfg.per_device_batch_size * cfg.gradient_accumulation_steps * world
    if cfg.global_batch_size is not None and cfg.global_batch_size != total:
        raise ValueError(
            f"train.global_batch_size={cfg.global_batch_size} but per_device_batch_size ({cfg.per_device_batch_size}) "
            f"x gradient_accumulation_steps ({cfg.gradient_accumulation_steps}) x world size ({world}) = {total}"
        )
    return total


def end_of_turn_token(tokenizer) -> str:
    """The special token the chat template closes an assistant turn with (its EOS for generation).

    Found by rendering a probe conversation; falls back to ``tokenizer.eos_token`` when the text
    after the assistant's content does not start with a special token.
    """
    probe = "skyt1 probe 7f3a"
    text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": probe}],
                                         tokenize=False)
    after = text[text.rfind(probe) + len(probe):] if probe in text else ""
    ids = tokenizer(after, add_special_tokens=False)["input_ids"] if after else []
    if ids:
        token = tokenizer.convert_ids_to_tokens(ids[0])
        if token in set(tokenizer.all_special_tokens) | {t.content for t in tokenizer.added_tokens_decoder.values()}:
            return token
    return tokenizer.eos_token


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def load_dtype(cfg: TrainConfig, bf16: bool, args):
    """The dtype to load trained weights in: fp32 unless something else keeps fp32 master weights.

    With ``bf16`` the Trainer autocasts compute to bf16 either way. Weights *loaded* in bf16 are
    also updated in bf16, and an AdamW step at lr 1e-5 is below bf16's resolution of a typical
    weight, so most updates round away: on the tiny recipe the loss stalled at 0.75 where fp32
    weights reached 0.15 (HF's "FSDP and DeepSpeed" blog saw FSDP's loss flat for this reason).
    DeepSpeed keeps fp32 master weights itself, so under it bf16 loading only saves memory;
    LoRA trains fp32 adapters (PEFT's default) over frozen weights.
    """
    import torch

    if bf16 and (cfg.method == "lora" or getattr(args, "deepspeed_plugin", None) is not None):
        return torch.bfloat16
    return torch.float32


def attn_implementation(cfg: TrainConfig, bf16: bool) -> str:
    if cfg.attn_implementation:
        return cfg.attn_implementation
    return "flash_attention_2" if cuda_available() and bf16 and find_spec("flash_attn") is not None else "sdpa"


def use_liger(cfg: TrainConfig) -> bool:
    available = find_spec("liger_kernel") is not None
    if cfg.liger_kernel and not available:
        raise ValueError("train.liger_kernel=true but liger_kernel is not installed (pip install liger-kernel)")
    return cfg.liger_kernel if cfg.liger_kernel is not None else (available and cuda_available())


def use_padding_free(cfg: TrainConfig, attn: str) -> bool:
    if cfg.packing:
        return True  # TRL's BFD packing is padding-free whatever the flag says
    if cfg.padding_free is not None:
        return cfg.padding_free
    return "flash" in attn and cfg.per_device_batch_size > 1


def show_progress(trainer) -> None:
    """A progress bar with rate and ETA instead of a printed dict per step (losses stay in the summary)."""
    from transformers.trainer_callback import PrinterCallback

    from skyt1.progress import training_progress
    from skyt1.stages.metrics_log import MetricsLog

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(training_progress())
    trainer.add_callback(MetricsLog())  # <stage>/log_history*.jsonl: the report's training curves


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete ``checkpoint-N``: one whose ``trainer_state.json`` exists (rank 0 writes it
    last, after every rank has written its part: ``every_rank_before_trainer_state``)."""
    done = [p for p in checkpoints.glob("checkpoint-*")
            if p.name.split("-")[-1].isdigit() and (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def every_rank_before_trainer_state(trainer) -> None:
    """Make a checkpoint's ``trainer_state.json`` mean that every rank has written its part.

    ``Trainer._save_checkpoint`` has each rank write ``rng_state_<R>.pth`` and then rank 0 alone,
    with no barrier, ``trainer_state.json``; a rank killed in the middle of its RNG file left a
    checkpoint that looked complete and could not be loaded (``OSError`` in ``torch.load`` on resume).
    A barrier after the RNG files closes the gap: the RNG files are the last thing a rank writes.
    """
    save_rng = trainer._save_rng_state

    def save_rng_then_wait(output_dir):
        save_rng(output_dir)
        trainer.accelerator.wait_for_everyone()

    trainer._save_rng_state = save_rng_then_wait


def resume_point(trainer, checkpoints: Path, config_hash: str) -> Path | None:
    """On the main process, drop checkpoints tagged with another config (untagged ones, from before
    tagging, are kept: ``Stage.check`` already refused a directory of another config); then every
    rank picks the same one."""
    if trainer.accelerator.is_main_process:
        tag = checkpoints / HASH_FILE
        if tag.is_file() and tag.read_text().strip() != config_hash:
            shutil.rmtree(checkpoints)
        checkpoints.mkdir(parents=True, exist_ok=True)
        tag.write_text(config_hash)
    trainer.accelerator.wait_for_everyone()
    return last_checkpoint(checkpoints)


def save_model(trainer, cfg: TrainConfig, stage_dir: Path) -> Path:
    """Save a plain Hugging Face model, tokenizer and chat template in ``<stage>/model``."""
    out = stage_dir / "model"
    if trainer.is_fsdp_enabled:
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    if cfg.method != "lora":
        trainer.save_model(str(out))  # gathers ZeRO-3 / FSDP shards; writes the tokenizer too
        return out
    adapter = stage_dir / "adapter"
    trainer.save_model(str(adapter))
    trainer.accelerator.wait_for_everyone()
    if trainer.accelerator.is_main_process:
        _merge_lora(adapter, trainer, cfg, out)
    trainer.accelerator.wait_for_everyone()
    return out


def _merge_lora(adapter: Path, trainer, cfg: TrainConfig, out: Path) -> None:
    """Merge the adapter into a fresh copy of the base weights on the CPU (works whatever sharding trained it)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from skyt1.backends import resolve_model_path

    trained = trainer.accelerator.unwrap_model(trainer.model)
    base = AutoModelForCausalLM.from_pretrained(resolve_model_path(cfg.base.model), revision=cfg.base.revision,
                                                dtype=trained.dtype)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    merged.generation_config = trained.generation_config  # carries the end-of-turn EOS TRL added
    merged.config.eos_token_id = trained.config.eos_token_id
    merged.config.pad_token_id = trained.config.pad_token_id
    merged.save_pretrained(out)
    trainer.processing_class.save_pretrained(out)


def checkpoint_epoch(checkpoint: Path | None) -> float:
    if checkpoint is None:
        return 0.0
    return float(json.loads((checkpoint / "trainer_state.json").read_text()).get("epoch") or 0.0)


def fit(stage, cfg: TrainConfig, build, describe, *, threads: int = 1, prices: dict | None = None) -> dict:
    """The body SFT and SimPO share: build the trainer, resume from the stage's last complete
    checkpoint, train, save ``<stage>/model``, and (main rank) finish the stage. Returns the summary
    on every rank.

    ``build(cfg, data, out_dir, threads=) -> (trainer, info)``; ``describe(trainer) -> (tokens per
    epoch, mean sequence length, the method's own summary fields)``.
    """
    import time

    from skyt1.cost import Ledger

    # One rank keeps the stage's spend (its GPU seconds count every rank's GPUs).
    ledger = Ledger(stage=stage.name).start(carry=stage.spent_path if is_main_rank() else None)
    trainer, info = build(cfg, stage.inputs[0], stage.dir, threads=threads)
    every_rank_before_trainer_state(trainer)
    checkpoint = resume_point(trainer, stage.dir / "checkpoints", stage.hash)
    start_epoch = checkpoint_epoch(checkpoint)  # read now: checkpoint rotation may delete it
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.time() - t0
    out = save_model(trainer, cfg, stage.dir)
    per_epoch, mean_len, own = describe(trainer)
    epochs_done = float(trainer.state.epoch or 0.0)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    gpus = world if cuda_available() else 0
    summary = {
        "model": str(out), "base": cfg.base.model, "method": cfg.method, **own,
        "epochs": round(epochs_done, 4),
        "steps": result.global_step,
        "global_batch_size": global_batch(cfg),
        "world_size": world,
        "train_loss": round(result.training_loss, 4),
        "loss_curve": [round(h["loss"], 4) for h in trainer.state.log_history if "loss" in h],
        "tokens_per_epoch": per_epoch,
        "trained_tokens": int(per_epoch * epochs_done),
        "seconds": round(seconds, 1),
        "tokens_per_second": round(per_epoch * max(epochs_done - start_epoch, 0.0) / max(seconds, 1e-9), 1),
        "gpu_hours": round(seconds * gpus / 3600, 4),
        "resumed_from": checkpoint.name if checkpoint else None,
        **info,
    }
    summary.update(mfu_summary(summary["tokens_per_second"], trainer.model, mean_len, gpus))
    summary["ranks"] = rank_facts(trainer, seconds)
    ledger.stop(gpus=gpus)
    if trainer.accelerator.is_main_process:
        from skyt1.hardware import detect_gpu

        ledger.gpu_type = detect_gpu() or ""
        stage.finish(summary, ledger.to_dict(prices))
    # Leave together and close the process group here (accelerate's end_training): left to the
    # interpreter's exit, a rank once aborted in C++ teardown ("terminate called without an active
    # exception") after the stage had finished, and the launch was reported as failed.
    trainer.accelerator.wait_for_everyone()
    trainer.accelerator.end_training()
    return summary


def lora_config(cfg: TrainConfig):
    """PEFT's LoRA settings on every linear layer when ``cfg.method == "lora"``, else None."""
    if cfg.method != "lora":
        return None
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def trainer_args(cfg: TrainConfig, out_dir: Path, *, bf16: bool, cuda: bool) -> dict:
    """The ``TrainingArguments`` that SFT and SimPO share: schedule, batch, precision, seeds,
    checkpoints (with optimizer state, for resume) and quiet logging (``show_progress`` draws).

    The recipe decides the precision: ``TrainingArguments`` falls back to the launched accelerate
    config's ``mixed_precision`` (``ACCELERATE_MIXED_PRECISION``) when ``bf16`` is off, so the
    shipped ``fsdp2`` config (bf16) would compute in bf16 on a CPU whose recipe resolved fp32.
    """
    os.environ["ACCELERATE_MIXED_PRECISION"] = "bf16" if bf16 else "no"
    return dict(
        output_dir=str(out_dir / "checkpoints"),
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a ratio of total steps (transformers >= 5)
        weight_decay=cfg.weight_decay,
        activation_checkpointing=cfg.gradient_checkpointing,  # transformers 5's name for gradient checkpointing
        use_liger_kernel=use_liger(cfg),
        bf16=bf16,
        use_cpu=not cuda,
        seed=cfg.seed,
        data_seed=cfg.seed,
        ddp_timeout=cfg.ddp_timeout,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        save_only_model=False,  # resume needs the optimizer, scheduler and RNG states
        logging_steps=1,
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=True,
    )

"""train: supervised fine-tuning of the student on the curated set with TRL's SFTTrainer.

What it guarantees, and how:

- **Loss on assistant tokens only.** The curated TRL messages file becomes TRL's conversational
  *prompt-completion* form (system and user turns are the prompt, the assistant turn the
  completion), rendered by the student's own chat template; ``completion_only_loss`` sets the
  label of every prompt token to -100 (``tests/integration/test_train.py`` decodes the
  loss-bearing tokens and finds exactly the assistant text and its end-of-turn).
- **The recipe's system prompt.** ``train.base.system_prompt`` (text or preset, as for
  generation and evaluation) replaces or inserts the system turn of every example, so the model
  is trained with the prompt it is evaluated with; unset, the data's own system turn is kept.
- **It stops.** The end-of-turn token of the chat template (``<|im_end|>`` for Qwen2.5 and
  SmolLM2, ``<|eot_id|>`` for Llama 3) is found by rendering a probe conversation, and becomes
  the tokenizer's EOS and a ``generation_config`` EOS of the saved model.
- **Batches.** Global batch = per-device batch x gradient accumulation x world size, checked
  against ``global_batch_size`` when the recipe sets it (Sky-T1: 1 x 12 x 8 = 96).
  Attention is flash-attention 2 when ``flash_attn`` is installed and training runs in bf16 on
  CUDA, else PyTorch SDPA. Padding-free batches (TRL ``padding_free``) need flash-attention to
  pay off, so by default they are on only with it (and a per-device batch above 1); as TRL
  cannot truncate a padding-free, unpacked batch, examples longer than ``max_seq_length`` are
  then dropped (counted in the summary) rather than cut. ``packing`` (TRL's best-fit-decreasing,
  itself padding-free) is opt-in because it changes what a batch of 96 means.
  Liger kernels are used when ``liger_kernel`` is installed and CUDA is available.
- **Crash and resume.** A checkpoint (model, optimizer, scheduler, RNG states) every
  ``save_steps``; a rerun resumes from the newest *complete* one (its ``trainer_state.json``,
  written last, exists). Checkpoints are tagged with the stage's config hash, and ones from
  another config are never resumed.
- **Export.** ``<stage>/model`` holds a plain Hugging Face model (LoRA adapters are merged into
  a fresh copy of the base weights), the tokenizer and its chat template, loadable by every
  backend. With DeepSpeed ZeRO-3 the trainer gathers the shards; with FSDP the state dict is
  switched to a full one before the final save.
- **Throughput and cost.** Tokens/s (prompt and completion tokens, of this process's share of
  the run), MFU against the GPUs' dense bf16 peak (``skyt1.hardware``), GPU-hours and dollars
  into the ledger.

Run it as ``skyt1 train`` or, on many GPUs, as the module that ``skyt1.launch.launch_command``
starts on every rank: ``accelerate launch ... -m skyt1.stages.train --recipe NAME --set k=v``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from skyt1.config import TrainConfig, system_prompt_text
from skyt1.cost import Ledger
from skyt1.records import RecordError, Stage, read_jsonl
from skyt1.stages.trainer import (
    attn_implementation,
    checkpoint_epoch,
    cuda_available,
    end_of_turn_token,
    global_batch,
    is_main_rank,
    last_checkpoint,
    launched,
    load_dtype,
    lora_config,
    mfu_summary,
    resume_point,
    save_model,
    show_progress,
    trainer_args,
    use_padding_free,
)

__all__ = [
    "build_trainer",
    "end_of_turn_token",
    "global_batch",
    "last_checkpoint",
    "main",
    "to_prompt_completion",
    "train",
    "train_stage",
]



def _with_system(messages: list[dict], system: str | None) -> list[dict]:
    rest = [m for m in messages if m.get("role") != "system"]
    return ([{"role": "system", "content": system}] if system else []) + rest


def to_prompt_completion(path: Path, system: str | None = None) -> list[dict]:
    """TRL messages rows -> prompt/completion rows; the last turn must be the assistant's.

    ``system`` (text), when given, replaces the rows' system turn or is inserted as one.
    """
    rows = []
    for lineno, r in enumerate(read_jsonl(path, required=("messages",)), 1):
        msgs = r["messages"]
        if not msgs or msgs[-1].get("role") != "assistant":
            raise RecordError(f"{path}:{lineno}: field 'messages': the last message must be the assistant's")
        prompt = _with_system(msgs[:-1], system) if system else msgs[:-1]
        rows.append({"prompt": prompt, "completion": msgs[-1:]})
    if not rows:
        raise RecordError(f"{path}: no training examples (did curation keep anything?)")
    return rows


def _drop_too_long(rows: list[dict], tokenizer, max_len: int) -> tuple[list[dict], int]:
    def n_tokens(r: dict) -> int:  # transformers 5 returns a BatchEncoding here, not a list
        return len(tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=True)["input_ids"])

    kept = [r for r in rows if n_tokens(r) <= max_len]
    if not kept:
        raise RecordError(f"every example is longer than train.max_seq_length={max_len} tokens")
    return kept, len(rows) - len(kept)


def build_trainer(cfg: TrainConfig, data_path: Path, out_dir: Path, *, threads: int = 1):
    """The configured SFTTrainer (exposed so tests can inspect masking and batching).

    The returned trainer carries ``skyt1_info``: the attention, padding-free, packing, Liger and
    EOS choices and the number of over-long examples dropped.
    """
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from skyt1.backends import resolve_model_path

    torch.set_num_threads(threads)
    global_batch(cfg)
    cuda = cuda_available()
    bf16 = cfg.bf16 if cfg.bf16 is not None else (cuda and torch.cuda.is_bf16_supported())
    attn = attn_implementation(cfg, bf16)
    padding_free = use_padding_free(cfg, attn)
    path = resolve_model_path(cfg.base.model)
    tokenizer = AutoTokenizer.from_pretrained(path, revision=cfg.base.revision)
    eos = end_of_turn_token(tokenizer)
    rows = to_prompt_completion(data_path, system_prompt_text(cfg.base.system_prompt))
    dropped = 0
    if padding_free and not cfg.packing:
        rows, dropped = _drop_too_long(rows, tokenizer, cfg.max_seq_length)
    # The arguments come before the model: under DeepSpeed ZeRO-3 they install the config that
    # makes from_pretrained build the model already partitioned (zero.Init).
    args = SFTConfig(
        **trainer_args(cfg, out_dir, bf16=bf16, cuda=cuda),
        # TRL cannot truncate padding-free unpacked batches; over-long rows were dropped above
        max_length=None if padding_free and not cfg.packing else cfg.max_seq_length,
        packing=cfg.packing,
        padding_free=padding_free,
        completion_only_loss=True,
        eos_token=eos,
    )
    model = AutoModelForCausalLM.from_pretrained(path, revision=cfg.base.revision, attn_implementation=attn,
                                                 dtype=load_dtype(cfg, bf16, args))
    peft_config = lora_config(cfg)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=peft_config)
    show_progress(trainer)
    trainer.skyt1_info = {"attn_implementation": attn, "padding_free": padding_free, "packing": cfg.packing,
                          "liger_kernel": args.use_liger_kernel, "bf16": bf16, "eos_token": eos,
                          "dropped_too_long": dropped}
    return trainer


def train(data_path: Path, stage: Stage, cfg: TrainConfig, *, threads: int = 1, prices: dict | None = None) -> dict:
    """Fine-tune, resuming from the stage's last complete checkpoint; save ``<stage>/model``; finish the stage.

    Run on every rank under ``accelerate launch``; only the main process writes the summary and
    manifest. Returns the summary (every rank).
    """
    # One rank keeps the stage's spend (its GPU seconds count every rank's GPUs).
    ledger = Ledger(stage="train").start(carry=stage.spent_path if is_main_rank() else None)
    trainer = build_trainer(cfg, data_path, stage.dir, threads=threads)
    checkpoint = resume_point(trainer, stage.dir / "checkpoints", stage.hash)
    start_epoch = checkpoint_epoch(checkpoint)  # read now: checkpoint rotation may delete it
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    seconds = time.time() - t0
    out = save_model(trainer, cfg, stage.dir)
    info = trainer.skyt1_info
    per_epoch = _trained_tokens(trainer)
    epochs_done = float(trainer.state.epoch or 0.0)
    tokens_now = per_epoch * max(epochs_done - start_epoch, 0.0)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    gpus = world if cuda_available() else 0
    summary = {
        "model": str(out),
        "base": cfg.base.model,
        "method": cfg.method,
        "examples": len(trainer.train_dataset),
        "dropped_too_long": info["dropped_too_long"],
        "epochs": round(epochs_done, 4),
        "steps": result.global_step,
        "global_batch_size": global_batch(cfg),
        "world_size": world,
        "train_loss": round(result.training_loss, 4),
        "loss_curve": [round(h["loss"], 4) for h in trainer.state.log_history if "loss" in h],
        "tokens_per_epoch": per_epoch,
        "trained_tokens": int(per_epoch * epochs_done),
        "seconds": round(seconds, 1),
        "tokens_per_second": round(tokens_now / max(seconds, 1e-9), 1),
        "gpu_hours": round(seconds * gpus / 3600, 4),
        "resumed_from": checkpoint.name if checkpoint else None,
        **{k: info[k] for k in ("attn_implementation", "padding_free", "packing", "liger_kernel", "bf16", "eos_token")},
    }
    summary.update(mfu_summary(summary["tokens_per_second"], trainer.model, per_epoch / max(len(trainer.train_dataset), 1), gpus))
    ledger.stop(gpus=gpus)
    if trainer.accelerator.is_main_process:
        from skyt1.hardware import detect_gpu

        ledger.gpu_type = detect_gpu() or ""
        stage.finish(summary, ledger.to_dict(prices))
    return summary


def _trained_tokens(trainer) -> int:
    """Tokens per epoch (prompt and completion; only completion tokens carry loss)."""
    return sum(len(ids) for ids in trainer.train_dataset["input_ids"])


def train_stage(recipe, data: Path | None = None, out: Path | None = None) -> tuple[Path, Stage]:
    """The training data path and stage directory ``skyt1 train`` uses for a recipe (defaults: the
    curate stage's TRL messages export, ``<run_dir>/train``)."""
    src = Path(data) if data else recipe.run_path / "curate" / f"{recipe.curate.name}_messages.jsonl"
    stage = Stage(Path(out) if out else recipe.run_path / "train", "train", recipe.train.model_dump(), inputs=[src],
                  seed=recipe.train.seed)
    return src, stage


def main(argv: list[str] | None = None) -> int:
    """``python -m skyt1.stages.train --recipe NAME [--set k=v ...] [--data PATH] [--out DIR] [--force]``."""
    return launched(argv, prog="python -m skyt1.stages.train", locate=train_stage, fit=train, section="train",
                    data_help="TRL messages JSONL (default: the curate stage's export)")


if __name__ == "__main__":
    sys.exit(main())

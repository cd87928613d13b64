"""train: supervised fine-tuning of the student on the curated set with TRL's SFTTrainer.

What it guarantees, and how:

- **Loss on assistant tokens only.** The curated TRL messages file becomes TRL's conversational
  *prompt-completion* form (system and user turns are the prompt, the assistant turn the
  completion), rendered by the student's own chat template or the one ``train.chat_template``
  names (``qwen25``: LLaMA-Factory's, as Sky-T1; ``skyt1.chat_templates``);
  ``completion_only_loss`` sets the label of every prompt token to -100
  (``tests/integration/test_train.py`` decodes the loss-bearing tokens and finds exactly the
  assistant text and its end-of-turn).
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

- **Processes.** ``run`` trains in this process when the recipe plans one process
  (``train.processes`` per node, default ``num_gpus``, times ``num_nodes``); otherwise it starts
  ``accelerate launch`` with the recipe's accelerate config (``skyt1.launch.run_launch``), which
  runs this module on every rank, and raises the failing rank's error if one fails. The same
  entry serves ``preference`` (SimPO) when the recipe has that section.
"""

from __future__ import annotations

import sys
from pathlib import Path

from skyt1.chat_templates import use_chat_template
from skyt1.config import TrainConfig, system_prompt_text
from skyt1.records import RecordError, Stage, read_jsonl
from skyt1.stages.rank import launched
from skyt1.stages.trainer import (
    attn_implementation,
    cuda_available,
    end_of_turn_token,
    fit,
    global_batch,
    last_checkpoint,
    load_dtype,
    lora_config,
    show_progress,
    trainer_args,
    use_padding_free,
)

__all__ = ["build_trainer", "end_of_turn_token", "fit_here", "global_batch", "last_checkpoint", "main", "plan", "run",
           "to_prompt_completion", "train"]



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
    """``(trainer, info)``: the configured SFTTrainer (exposed so tests can inspect masking and
    batching) and the choices made for it: attention, padding-free, packing, Liger, bf16, the EOS
    and the number of over-long examples dropped."""
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
    tokenizer = use_chat_template(AutoTokenizer.from_pretrained(path, revision=cfg.base.revision), cfg.chat_template)
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
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=lora_config(cfg))
    show_progress(trainer)
    info = {"attn_implementation": attn, "padding_free": padding_free, "packing": cfg.packing,
            "liger_kernel": args.use_liger_kernel, "bf16": bf16, "eos_token": eos, "dropped_too_long": dropped}
    return trainer, info


def _describe(trainer) -> tuple[int, float, dict]:
    """Tokens per epoch (prompt and completion; only completion tokens carry loss), their mean
    per example, and the SFT summary's own fields."""
    per_epoch = sum(len(ids) for ids in trainer.train_dataset["input_ids"])
    examples = len(trainer.train_dataset)
    return per_epoch, per_epoch / max(examples, 1), {"examples": examples}


def train(data_path: Path, stage: Stage, cfg: TrainConfig, *, threads: int = 1, prices: dict | None = None) -> dict:
    """SFT in this process (one rank of a launch, or a one-process run); see ``trainer.fit``."""
    if Path(data_path) != Path(stage.inputs[0]):
        raise ValueError(f"{stage.dir}: the stage reads {stage.inputs[0]}, not {data_path}")
    return fit(stage, cfg, build_trainer, _describe, threads=threads, prices=prices)


def _section(recipe) -> tuple[str, TrainConfig]:
    return ("preference", recipe.preference) if recipe.preference is not None else ("train", recipe.train)


def plan(recipe, *, inp: Path | None = None, out: Path | None = None) -> Stage:
    """The training stage of ``recipe``: ``train`` (SFT on the curate stage's TRL messages export)
    or, when the recipe has a ``preference`` section, ``preference`` (SimPO on ``preference.data``,
    else the curate stage's pairs). ``inp`` and ``out`` override the data file and the directory."""
    name, cfg = _section(recipe)
    if name == "preference":
        default = Path(cfg.data) if cfg.data else recipe.run_path / "curate" / f"{recipe.curate.name}_preference.jsonl"
    else:
        default = recipe.run_path / "curate" / f"{recipe.curate.name}_messages.jsonl"
    src = Path(inp) if inp else default
    return Stage(Path(out) if out else recipe.run_path / name, name, cfg.model_dump(), inputs=[src], seed=cfg.seed)


def fit_here(recipe, stage: Stage) -> dict:
    """Train ``stage`` in this process (what each rank runs)."""
    name, cfg = _section(recipe)
    if name == "preference":
        from skyt1.stages.preference import train_preference as method
    else:
        method = train
    return method(stage.inputs[0], stage, cfg, threads=recipe.threads, prices=recipe.prices.model_dump())


def run(recipe, stage: Stage, *, machine_rank: int = 0, main_process_ip: str | None = None,
        main_process_port: int | None = None) -> dict:
    """Train ``stage``: here when the recipe plans one process, else through ``accelerate launch``
    (this node's share; each node of a multi-node run calls it with its ``machine_rank``)."""
    import os

    from skyt1.launch import run_launch

    _, cfg = _section(recipe)
    if cfg.world_size == 1 or "LOCAL_RANK" in os.environ:
        return fit_here(recipe, stage)
    global_batch(cfg, world_size=cfg.world_size)  # fail before starting processes
    return run_launch(recipe, stage, machine_rank=machine_rank, main_process_ip=main_process_ip,
                      main_process_port=main_process_port)


def main(argv: list[str] | None = None) -> int:
    """``python -m skyt1.stages.train --recipe NAME [--set k=v ...] [--data PATH] [--out DIR] [--force]``."""
    return launched(argv)


if __name__ == "__main__":
    sys.exit(main())

"""preference: SimPO on the curated preference pairs, as Sky-T1-32B-Flash was trained.

Sky-T1-32B-Flash (NovaSky, "Think Less, Achieve More: Cut Reasoning Costs by 50% Without
Sacrificing Accuracy", Jan 2025, https://novasky-ai.github.io/posts/reduce-overthinking/)
starts from Sky-T1-32B-Preview and runs SimPO (Meng et al. 2024, arXiv:2405.14734) for 1 epoch,
batch 96, lr 5e-7, beta 2.0, gamma 0.3 (SkyThought's ``qwen2_full_simpo.yaml``) on ~10k pairs:
shortest vs longest correct response, plus {longer correct, short incorrect} pairs
(``skyt1.curation.select.preference_pairs``).

SimPO runs through TRL's ``trl.experimental.cpo.CPOTrainer`` with ``loss_type="simpo"`` and
``cpo_alpha=0`` (no NLL term): reference-free, the loss is
``-log sigmoid(beta * (avg logp(chosen) - avg logp(rejected)) - gamma)`` with log-probabilities
averaged over each completion's tokens -- the same formula as LLaMA-Factory's ``pref_loss:
simpo``, which NovaSky used.

Input rows are ``{"prompt", "chosen", "rejected"}`` (extra keys ignored): plain strings, as
curation exports them (prompt = the problem's question), or TRL's conversational form (a prompt
list of messages, chosen/rejected as one assistant message). The prompt is rendered with the
policy's chat template and the recipe's system prompt (``preference.base.system_prompt``), and
each completion ends with the template's end-of-turn token, which is the saved model's EOS --
exactly what ``skyt1 train`` does for SFT, so the two stages see the same text. Prompt tokens
are masked (-100) in the labels. Checkpoints, resume, LoRA merging, export, throughput, MFU and
the ledger work as in ``skyt1.stages.train``.

Run it as the module every rank runs under ``accelerate launch``:
``python -m skyt1.stages.preference --recipe sky-t1-32b-flash [--data PAIRS] [--out DIR]``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from skyt1.chat_templates import use_chat_template
from skyt1.config import PreferenceConfig, system_prompt_text
from skyt1.records import RecordError, Stage, read_jsonl
from skyt1.stages.rank import launched
from skyt1.stages.trainer import (
    attn_implementation,
    cuda_available,
    end_of_turn_token,
    fit,
    global_batch,
    load_dtype,
    lora_config,
    show_progress,
    trainer_args,
)

__all__ = ["build_preference_trainer", "main", "to_preference_rows", "train_preference"]


def _assistant_text(value, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and isinstance(value[-1], dict) and value[-1].get("role") == "assistant":
        return str(value[-1].get("content", ""))
    raise RecordError(f"{where}: expected a string or a list ending with an assistant message")


def _prompt_messages(value, where: str) -> list[dict]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, list) and value and all(isinstance(m, dict) and "role" in m for m in value):
        return list(value)
    raise RecordError(f"{where}: field 'prompt': expected a string or a list of messages")


def to_preference_rows(path: Path, tokenizer, system: str | None = None, eos: str | None = None) -> list[dict]:
    """Pairs JSONL -> ``{"prompt", "chosen", "rejected"}`` strings ready for ``CPOTrainer``.

    The prompt is the chat template's rendering (with ``system`` as the system turn, when given)
    up to the assistant header; each completion is the response text followed by ``eos``
    (default: the template's end-of-turn token).
    """
    eos = eos or end_of_turn_token(tokenizer)
    rows = []
    for lineno, r in enumerate(read_jsonl(path, required=("prompt", "chosen", "rejected")), 1):
        where = f"{path}:{lineno}"
        msgs = _prompt_messages(r["prompt"], where)
        if system:
            msgs = [{"role": "system", "content": system}] + [m for m in msgs if m.get("role") != "system"]
        prompt = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        chosen, rejected = _assistant_text(r["chosen"], where), _assistant_text(r["rejected"], where)
        if chosen == rejected:
            raise RecordError(f"{where}: chosen and rejected are the same text")
        rows.append({"prompt": prompt, "chosen": chosen + eos, "rejected": rejected + eos})
    if not rows:
        raise RecordError(f"{path}: no preference pairs (did curation find any?)")
    return rows


def build_preference_trainer(cfg: PreferenceConfig, pairs_path: Path, out_dir: Path, *, threads: int = 1):
    """``(trainer, info)``: the configured SimPO ``CPOTrainer`` (exposed so tests can inspect its rows
    and settings) and the attention, Liger, bf16 and EOS choices made for it."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # chosen knowingly: SimPO lives in trl.experimental.cpo
    from trl.experimental.cpo import CPOConfig, CPOTrainer

    from skyt1.backends import resolve_model_path

    torch.set_num_threads(threads)
    global_batch(cfg)
    cuda = cuda_available()
    bf16 = cfg.bf16 if cfg.bf16 is not None else (cuda and torch.cuda.is_bf16_supported())
    attn = attn_implementation(cfg, bf16)
    path = resolve_model_path(cfg.base.model)
    tokenizer = use_chat_template(AutoTokenizer.from_pretrained(path, revision=cfg.base.revision), cfg.chat_template)
    eos = end_of_turn_token(tokenizer)
    tokenizer.eos_token = eos  # so CPOTrainer finds the EOS already there and adds none
    rows = to_preference_rows(pairs_path, tokenizer, system_prompt_text(cfg.base.system_prompt), eos)
    # The arguments come before the model: under ZeRO-3 they make from_pretrained partition the weights.
    args = CPOConfig(
        **trainer_args(cfg, out_dir, bf16=bf16, cuda=cuda),
        loss_type="simpo",
        cpo_alpha=cfg.cpo_alpha,
        beta=cfg.beta,
        simpo_gamma=cfg.gamma,
        max_length=cfg.max_seq_length,
        remove_unused_columns=False,
    )
    model = AutoModelForCausalLM.from_pretrained(path, revision=cfg.base.revision, attn_implementation=attn,
                                                 dtype=load_dtype(cfg, bf16, args))
    eos_ids = model.generation_config.eos_token_id
    eos_ids = [] if eos_ids is None else [eos_ids] if isinstance(eos_ids, int) else list(eos_ids)
    if tokenizer.eos_token_id not in eos_ids:
        model.generation_config.eos_token_id = [tokenizer.eos_token_id, *eos_ids]
    model.config.eos_token_id = tokenizer.eos_token_id
    peft_config = lora_config(cfg)
    trainer = CPOTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                         peft_config=peft_config)
    show_progress(trainer)
    info = {"attn_implementation": attn, "liger_kernel": args.use_liger_kernel, "bf16": bf16, "eos_token": eos}
    return trainer, info


def _describe(trainer) -> tuple[int, float, dict]:
    """Tokens per epoch (prompt + chosen and prompt + rejected, as the model sees them), their mean
    per sequence, and the SimPO summary's own fields (loss settings, reward curves)."""
    ds, history = trainer.train_dataset, trainer.state.log_history
    per_epoch = sum(len(ids) for ids in ds["chosen_input_ids"]) + sum(len(ids) for ids in ds["rejected_input_ids"])
    cfg = trainer.args
    own = {
        "loss": "simpo" if cfg.cpo_alpha == 0 else "cpo-simpo",
        "beta": cfg.beta,
        "gamma": cfg.simpo_gamma,
        "cpo_alpha": cfg.cpo_alpha,
        "pairs": len(ds),
        "reward_accuracy": [round(h["rewards/accuracies"], 4) for h in history if "rewards/accuracies" in h],
        "reward_margin": [round(h["rewards/margins"], 4) for h in history if "rewards/margins" in h],
    }
    return per_epoch, per_epoch / max(2 * len(ds), 1), own


def train_preference(pairs_path: Path, stage: Stage, cfg: PreferenceConfig, *, threads: int = 1,
                     prices: dict | None = None) -> dict:
    """SimPO from ``cfg.base`` in this process; see ``skyt1.stages.trainer.fit``."""
    if Path(pairs_path) != Path(stage.inputs[0]):
        raise ValueError(f"{stage.dir}: the stage reads {stage.inputs[0]}, not {pairs_path}")
    return fit(stage, cfg, build_preference_trainer, _describe, threads=threads, prices=prices)


def main(argv: list[str] | None = None) -> int:
    """``python -m skyt1.stages.preference``: the same entry as ``python -m skyt1.stages.train``,
    which trains the recipe's ``preference`` section when it has one."""
    return launched(argv, prog="python -m skyt1.stages.preference")


if __name__ == "__main__":
    sys.exit(main())

"""SimPO (TRL CPOTrainer, loss_type="simpo", cpo_alpha=0) on the pairs curation exports, on CPU
with a tiny random-initialized Llama and the embedded tokenizer; and the Sky-T1-32B-Flash recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyt1.config import load_recipe
from skyt1.curation.select import preference_pairs
from skyt1.stages.preference import build_preference_trainer, to_preference_rows, train_preference
from skyt1.stages.train import global_batch, plan

pytestmark = pytest.mark.integration

SYSTEM = "Think, then answer."


@pytest.fixture
def pairs_file(tmp_path) -> Path:
    """Pairs as curation builds them: from scored samples, 2 kinds per problem."""
    verdicts = []
    for p in range(4):
        q = f"What is {p} + {p}?"
        for i, (resp, ok) in enumerate([(f"{2 * p}", True), (f"Let me check twice. {p} + {p} = {2 * p}.", True),
                                        ("7", False)]):
            verdicts.append({"problem_id": f"p{p}", "index": i, "question": q, "response": resp, "correct": ok,
                             "finish_reason": "stop", "usage": {"completion_tokens": len(resp.split())}})
    pairs = preference_pairs(verdicts)
    assert {r["kind"] for r in pairs} == {"shortest_vs_longest_correct", "longer_correct_vs_short_incorrect"}
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in pairs), encoding="utf-8")
    return path


def _recipe(tmp_path: Path, model: str, *sets: str):
    return load_recipe("sky-t1-32b-flash", [
        f"run_dir={tmp_path / 'run'}", "threads=1",
        f"preference.base={{backend: transformers, model: {model}, system_prompt: '{SYSTEM}'}}",
        "preference.global_batch_size=null", "preference.per_device_batch_size=2",
        "preference.gradient_accumulation_steps=1", "preference.max_seq_length=128", "preference.bf16=false",
        "preference.gradient_checkpointing=false", "preference.save_steps=1", "preference.max_steps=2",
        "preference.learning_rate=1e-3", *sets])


def test_rows_render_the_chat_template_and_end_with_the_end_of_turn(tmp_path, tiny_model, pairs_file):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    rows = to_preference_rows(pairs_file, tok, SYSTEM)
    first = json.loads(pairs_file.read_text().splitlines()[0])
    assert rows[0]["prompt"] == (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{first['prompt']}"
                                 "<|im_end|>\n<|im_start|>assistant\n")
    assert rows[0]["chosen"] == first["chosen"] + "<|im_end|>" and rows[0]["rejected"] == first["rejected"] + "<|im_end|>"
    # TRL's conversational form gives the same rows
    conv = tmp_path / "conv.jsonl"
    conv.write_text(json.dumps({"prompt": [{"role": "user", "content": first["prompt"]}],
                                "chosen": [{"role": "assistant", "content": first["chosen"]}],
                                "rejected": [{"role": "assistant", "content": first["rejected"]}]}) + "\n")
    assert to_preference_rows(conv, tok, SYSTEM) == rows[:1]


def test_simpo_trains_two_steps_and_saves_a_model(tmp_path, tiny_model, pairs_file):
    from transformers import AutoModelForCausalLM

    r = _recipe(tmp_path, tiny_model)
    trainer, _ = build_preference_trainer(r.preference, pairs_file, tmp_path / "probe")
    a = trainer.args
    assert (a.loss_type, a.cpo_alpha, a.beta, a.simpo_gamma) == ("simpo", 0.0, 2.0, 0.3)
    eos = trainer.processing_class.eos_token_id
    for row in trainer.train_dataset:
        n_prompt = len(row["prompt_input_ids"])
        for side in ("chosen", "rejected"):
            labels = row[f"{side}_labels"]
            assert all(x == -100 for x in labels[:n_prompt]) and all(x != -100 for x in labels[n_prompt:])
            assert row[f"{side}_input_ids"][-1] == eos and row[f"{side}_input_ids"][-2] != eos  # one EOS, not two
    stage = plan(r, inp=pairs_file)
    data = stage.inputs[0]
    stage.check()
    summary = train_preference(data, stage, r.preference, threads=1)
    assert summary["loss"] == "simpo" and summary["steps"] == 2 and summary["pairs"] == len(trainer.train_dataset)
    assert len(summary["reward_margin"]) == 2 and summary["tokens_per_second"] > 0
    assert (stage.dir / "manifest.json").exists() and (stage.dir / "checkpoints" / "checkpoint-2").is_dir()
    model = AutoModelForCausalLM.from_pretrained(summary["model"])
    assert 2 in (model.generation_config.eos_token_id if isinstance(model.generation_config.eos_token_id, list)
                 else [model.generation_config.eos_token_id])


def test_flash_recipe_has_the_published_hyperparameters():
    r = load_recipe("sky-t1-32b-flash")
    p = r.preference
    assert p.base.model == "NovaSky-AI/Sky-T1-32B-Preview" and p.method == "full"
    assert (p.learning_rate, p.beta, p.gamma, p.cpo_alpha, p.epochs) == (5e-7, 2.0, 0.3, 0.0, 1)
    assert global_batch(p, world_size=8) == 96
    with pytest.raises(ValueError, match="world size"):
        global_batch(p, world_size=4)
    assert plan(r).inputs[0] == r.run_path / "curate" / f"{r.curate.name}_preference.jsonl"

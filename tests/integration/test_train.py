"""skyt1 train on CPU: masking, global-batch arithmetic, crash and resume, LoRA export, and a
saved model that generates and stops.

Most tests train a tiny random-initialized Llama (hidden 64, 2 layers) with the embedded
SmolLM2 tokenizer and chat template: the same code path as the real student, in seconds. Only
the stop test trains the real embedded model, because its point is that a trained model stops.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skyt1.config import ConfigError, TrainConfig, load_recipe
from skyt1.stages.train import build_trainer, global_batch, last_checkpoint, plan, train

pytestmark = pytest.mark.integration

SYSTEM = "Answer with one sentence."


def _rows(n: int) -> list[dict]:
    return [{"messages": [{"role": "system", "content": "an old system prompt"},
                          {"role": "user", "content": f"What is {i} + {i + 1}?" + " Show no work." * (i % 3)},
                          {"role": "assistant", "content": f"The answer is {2 * i + 1}."}]} for i in range(n)]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _recipe(tmp_path: Path, model: str, *sets: str):
    return load_recipe("tiny", [f"run_dir={tmp_path / 'run'}", "train.base.backend=transformers",
                                f"train.base.model={model}", f"train.base.system_prompt={SYSTEM}",
                                "train.per_device_batch_size=4", "train.max_seq_length=128", *sets])


def test_loss_is_on_assistant_tokens_only(tmp_path, tiny_model):
    from transformers import AutoTokenizer

    r = _recipe(tmp_path, tiny_model)
    trainer, info = build_trainer(r.train, _write(tmp_path / "d.jsonl", _rows(3)), tmp_path / "train")
    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert info["eos_token"] == "<|im_end|>" == trainer.processing_class.eos_token
    for i, row in enumerate(trainer.train_dataset):
        ids, labels = row["input_ids"], row["labels"]
        loss_at = [k for k, lab in enumerate(labels) if lab != -100]
        assert loss_at, "no loss-bearing token"
        start = loss_at[0]
        assert loss_at == list(range(start, len(ids))), "the loss-bearing tokens are one tail span"
        assert all(labels[k] == ids[k] for k in loss_at)
        prompt = tok.decode(ids[:start])
        # the recipe's system prompt replaced the data's; the prompt ends with the assistant header
        assert prompt.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>") and "an old system prompt" not in prompt
        assert prompt.endswith("<|im_start|>assistant\n")
        assert tok.decode(ids[start:]) == f"The answer is {2 * i + 1}.<|im_end|>\n"
    # the collated batch keeps the mask and masks padding too
    batch = trainer.data_collator([trainer.train_dataset[k] for k in range(3)])
    pad = batch["attention_mask"] == 0
    assert pad.any() and (batch["labels"][pad] == -100).all()
    assert ((batch["labels"] != -100).sum(dim=1) > 0).all()


def test_the_qwen25_template_trains_on_llama_factorys_text(tmp_path, tiny_model):
    """train.chat_template=qwen25 (Sky-T1's LLaMA-Factory template): the loss-bearing tail is the
    answer and <|endoftext|>, which becomes the EOS; the saved tokenizer keeps the template."""
    from transformers import AutoTokenizer

    r = _recipe(tmp_path, tiny_model, "train.chat_template=qwen25")
    trainer, info = build_trainer(r.train, _write(tmp_path / "d.jsonl", _rows(2)), tmp_path / "train")
    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert info["eos_token"] == "<|endoftext|>" == trainer.processing_class.eos_token
    for i, row in enumerate(trainer.train_dataset):
        start = next(k for k, lab in enumerate(row["labels"]) if lab != -100)
        prompt = tok.decode(row["input_ids"][:start])
        assert prompt.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user")
        assert tok.decode(row["input_ids"][start:]) == f"The answer is {2 * i + 1}.<|endoftext|>"
    assert "<|endoftext|>" in trainer.processing_class.chat_template


def test_padding_free_batches_keep_the_mask(tmp_path, tiny_model):
    """Forced padding-free (on CPU, SDPA with transformers' packed-sequence mask): one flat row,
    positions restart per example, prompts still masked."""
    r = _recipe(tmp_path, tiny_model, "train.padding_free=true", "train.max_steps=1", "train.save_steps=100")
    long = {"messages": [{"role": "user", "content": "Count."}, {"role": "assistant", "content": "one two " * 80}]}
    trainer, info = build_trainer(r.train, _write(tmp_path / "d.jsonl", _rows(3) + [long]), tmp_path / "train")
    assert info["padding_free"] and trainer.args.max_length is None
    assert info["dropped_too_long"] == 1 and len(trainer.train_dataset) == 3  # TRL cannot truncate it
    batch = trainer.data_collator([trainer.train_dataset[k] for k in range(3)])
    assert batch["input_ids"].shape[0] == 1 and "attention_mask" not in batch
    assert int((batch["position_ids"][0] == 0).sum()) == 3
    n_loss = sum(sum(lab != -100 for lab in trainer.train_dataset[k]["labels"]) for k in range(3))
    assert int((batch["labels"] != -100).sum()) == n_loss
    assert trainer.train().training_loss > 0  # a step runs on the flattened batch


@pytest.mark.parametrize(("method", "dtype"), [("full", "float32"), ("lora", "bfloat16")])
def test_bf16_training_keeps_full_fine_tuning_weights_in_fp32(tmp_path, tiny_model, method, dtype):
    """bf16 compute, but weights updated in bf16 would round small AdamW steps away."""
    import torch

    r = _recipe(tmp_path, tiny_model, "train.bf16=true", f"train.method={method}")
    trainer, info = build_trainer(r.train, _write(tmp_path / "d.jsonl", _rows(3)), tmp_path / "train")
    assert trainer.args.bf16
    frozen = [p.dtype for p in trainer.model.parameters() if not p.requires_grad]
    trained = [p.dtype for p in trainer.model.parameters() if p.requires_grad]
    assert set(trained) == {torch.float32}
    assert set(frozen) <= {getattr(torch, dtype)} and (method == "full") == (not frozen)


def test_global_batch_arithmetic():
    sky = load_recipe("sky-t1-32b-preview").train
    assert global_batch(sky, world_size=8) == 96 == 1 * 12 * 8
    with pytest.raises(ValueError, match=r"global_batch_size=96 .*\(1\) x gradient_accumulation_steps \(12\) x world size \(4\) = 48"):
        global_batch(sky, world_size=4)
    assert global_batch(TrainConfig(per_device_batch_size=4, gradient_accumulation_steps=3), world_size=2) == 24
    os.environ["WORLD_SIZE"] = "8"
    try:
        assert global_batch(sky) == 96
    finally:
        del os.environ["WORLD_SIZE"]
    with pytest.raises(ConfigError, match="global_batch_size"):
        load_recipe("tiny", ["train.global_batch_size=0"])


def test_mismatched_global_batch_refuses_to_train(tmp_path, tiny_model):
    r = _recipe(tmp_path, tiny_model, "train.global_batch_size=96")
    with pytest.raises(ValueError, match="global_batch_size=96"):
        build_trainer(r.train, _write(tmp_path / "d.jsonl", _rows(2)), tmp_path / "train")


def _launch(recipe_args: list[str], out: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-m", "skyt1.stages.train", *recipe_args, "--out", str(out)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def test_resumes_after_a_real_crash(tmp_path, tiny_model):
    """kill -9 the launched module once checkpoint-4 is complete; the rerun resumes from it and finishes."""
    data = _write(tmp_path / "d.jsonl", _rows(16))
    args = ["--recipe", "tiny", "--data", str(data)]
    for s in ("train.base.backend=transformers", f"train.base.model={tiny_model}", "train.per_device_batch_size=4",
              "train.max_seq_length=128", "train.max_steps=12", "train.save_steps=4", "train.save_total_limit=2"):
        args += ["--set", s]
    out = tmp_path / "train"
    proc = _launch(args, out, tmp_path / "first.log")
    deadline = time.time() + 120
    while last_checkpoint(out / "checkpoints") is None:
        assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
        assert time.time() < deadline, "no checkpoint within 120 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "the run finished before it could be killed"
    crashed_at = last_checkpoint(out / "checkpoints").name
    assert crashed_at != "checkpoint-12"

    second = _launch(args, out, tmp_path / "second.log")
    assert second.wait(timeout=300) == 0, (tmp_path / "second.log").read_text()[-3000:]
    summary = json.loads((tmp_path / "second.log").read_text().strip().splitlines()[-1])
    assert summary["resumed_from"] == crashed_at and summary["steps"] == 12
    assert json.loads((out / "summary.json").read_text()) == summary
    state = json.loads((last_checkpoint(out / "checkpoints") / "trainer_state.json").read_text())
    assert state["global_step"] == 12
    # a third run finds the stage finished and does nothing
    third = subprocess.run([sys.executable, "-m", "skyt1.stages.train", *args, "--out", str(out)],
                           check=False, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "already finished" in third.stdout


def test_checkpoints_of_another_config_are_not_resumed(tmp_path, tiny_model):
    r = _recipe(tmp_path, tiny_model, "train.max_steps=1", "train.save_steps=100")
    stage = plan(r, inp=_write(tmp_path / "d.jsonl", _rows(4)))
    data = stage.inputs[0]
    stale = stage.dir / "checkpoints" / "checkpoint-7"
    stale.mkdir(parents=True)
    (stale / "trainer_state.json").write_text(json.dumps({"global_step": 7, "epoch": 3.0}))
    (stage.dir / "checkpoints" / "skyt1_config_hash").write_text("another-config")
    (stage.dir / "checkpoints" / "checkpoint-9").mkdir()  # torn: no trainer_state.json, never picked
    assert last_checkpoint(stage.dir / "checkpoints") == stale
    stage.check()
    summary = train(data, stage, r.train)
    assert summary["resumed_from"] is None and summary["steps"] == 1 and not stale.exists()


def test_lora_is_merged_into_a_plain_model(tmp_path, tiny_model):
    import torch
    from transformers import AutoModelForCausalLM

    r = _recipe(tmp_path, tiny_model, "train.method=lora", "train.lora_r=4", "train.max_steps=2",
                "train.learning_rate=1e-2", "train.save_steps=100")
    stage = plan(r, inp=_write(tmp_path / "d.jsonl", _rows(8)))
    data = stage.inputs[0]
    stage.check()
    summary = train(data, stage, r.train)
    model_dir = Path(summary["model"])
    assert summary["method"] == "lora" and summary["steps"] == 2
    assert not (model_dir / "adapter_config.json").exists() and (model_dir / "chat_template.jinja").exists()
    merged = AutoModelForCausalLM.from_pretrained(model_dir)
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert not any("lora" in k for k in merged.state_dict())
    changed = [k for k, v in base.state_dict().items() if not torch.equal(v, merged.state_dict()[k])]
    assert any("q_proj" in k for k in changed), "the adapters were not merged"
    assert 2 in (merged.generation_config.eos_token_id if isinstance(merged.generation_config.eos_token_id, list)
                 else [merged.generation_config.eos_token_id])


def test_trained_embedded_model_generates_and_stops(tmp_path, embedded_path):
    """Full fine-tuning of the real embedded model for two steps; the saved model stops by itself."""
    from skyt1.backends.base import Request, SamplingParams
    from skyt1.backends.transformers import TransformersBackend

    r = load_recipe("tiny", [f"run_dir={tmp_path / 'run'}", "train.per_device_batch_size=2", "train.max_steps=2",
                             "train.learning_rate=1e-5", "train.max_seq_length=96", "train.save_steps=100"])
    rows = [{"messages": [{"role": "user", "content": f"What is {i} + 2? Reply with the number only."},
                          {"role": "assistant", "content": str(i + 2)}]} for i in range(4)]
    stage = plan(r, inp=_write(tmp_path / "d.jsonl", rows))
    data = stage.inputs[0]
    stage.check()
    summary = train(data, stage, r.train)
    assert summary["steps"] == 2 and summary["eos_token"] == "<|im_end|>" and summary["tokens_per_second"] > 0
    manifest = json.loads((stage.dir / "manifest.json").read_text())
    assert manifest["cost"]["wall_seconds"] > 0 and "usd" in manifest["cost"]
    backend = TransformersBackend(summary["model"], batch_size=2, threads=1)
    reqs = [Request(key=(i,), messages=[{"role": "user", "content": f"What is {i} + 2? Reply with the number only."}])
            for i in (5, 7)]
    done = list(backend.generate(reqs, SamplingParams(temperature=0.0, max_tokens=48)))
    assert [c.finish_reason for _, c in done] == ["stop", "stop"], [c.text for _, c in done]

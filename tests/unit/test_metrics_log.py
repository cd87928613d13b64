"""MetricsLog: a real Trainer (a one-layer GPT-2 made here, on the CPU) writes its curves to
``<stage>/log_history.jsonl``; a resumed run keeps only the events up to its checkpoint."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from skyt1.stages.metrics_log import MetricsLog, read_log_history  # noqa: E402 - needs the importorskip guards above


class _Batches(torch.utils.data.Dataset):
    """Eight rows of 12 tokens, the last 4 of every other row padding (mask 0)."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        ids = torch.arange(12) % 50 + i
        mask = torch.ones(12, dtype=torch.long)
        if i % 2:
            mask[-4:] = 0
        return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def test_every_log_event_lands_on_disk_with_lr_grad_norm_and_tokens(tmp_path):
    torch.set_num_threads(1)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=64,
                                                                 n_positions=16))
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "checkpoints"), per_device_train_batch_size=2,
                                          max_steps=4, logging_steps=1, learning_rate=1e-3, report_to="none",
                                          use_cpu=True, save_strategy="no", disable_tqdm=True,
                                          lr_scheduler_type="linear")
    trainer = transformers.Trainer(model=model, args=args, train_dataset=_Batches())
    trainer.add_callback(MetricsLog())
    trainer.train()
    rows = [json.loads(line) for line in (tmp_path / "log_history.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4] and all(r["rank"] == 0 for r in rows)
    assert all(r["grad_norm"] > 0 and r["learning_rate"] > 0 and r["tokens_per_second"] > 0 for r in steps)
    assert steps[0]["learning_rate"] > steps[-1]["learning_rate"]  # the linear schedule decays
    # each step: one row of 12 tokens and one of 8 (padding is not counted)
    assert [r["tokens"] for r in steps] == [20, 20, 20, 20]
    assert "train_runtime" in rows[-1]
    assert read_log_history(tmp_path) == rows


def test_a_resumed_run_drops_the_events_after_its_checkpoint(tmp_path):
    path = tmp_path / "log_history.jsonl"
    old = [{"rank": 0, "step": s, "loss": 1.0 / s} for s in range(1, 6)] + [{"rank": 0, "step": 5, "train_runtime": 1}]
    path.write_text("".join(json.dumps(r) + "\n" for r in old) + '{"rank": 0, "st')  # and a torn line
    (tmp_path / "log_history.rank1.jsonl").write_text(json.dumps({"rank": 1, "step": 2, "loss": 0.5}) + "\n")
    assert len(read_log_history(tmp_path)) == 7  # both ranks, torn line skipped
    cb = MetricsLog()
    args = transformers.TrainingArguments(output_dir=str(tmp_path / "checkpoints"), report_to="none", use_cpu=True)
    state = transformers.TrainerState()
    state.global_step = 3
    cb.on_train_begin(args, state, None)
    assert [r["step"] for r in read_log_history(tmp_path) if r["rank"] == 0] == [1, 2, 3]
    state.global_step = 0  # a fresh start empties it
    cb.on_train_begin(args, state, None)
    assert path.read_text() == ""

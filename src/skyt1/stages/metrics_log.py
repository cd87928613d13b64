"""Training curves on disk: every log event of the Trainer, from every rank, as JSONL.

``MetricsLog`` (a ``transformers.TrainerCallback``) appends one line per log event (every
``logging_steps`` optimizer steps) to ``<stage dir>/log_history.jsonl`` on rank 0 and
``log_history.rank<R>.jsonl`` on rank R > 0 (one file per process: concurrent appends to one
file are not atomic on network file systems). The stage directory is the parent of the Trainer's
``output_dir`` (``<stage>/checkpoints``, ``skyt1.stages.trainer.trainer_args``). A line holds:

- ``rank``, ``step`` (optimizer step), ``epoch``, ``time`` (Unix seconds);
- what the Trainer logged: ``loss`` (the mean over ranks), ``learning_rate``, ``grad_norm``, and for
  SimPO TRL's ``rewards/*`` and ``logps/*``; the last event holds ``train_runtime`` and friends;
- this rank's own throughput since the previous event: ``tokens`` (non-padding input tokens its
  training forward passes saw, counted by a forward pre-hook on the model), ``seconds`` and
  ``tokens_per_second``.

A resumed run rewrites each file without the events after the checkpoint it resumes from (those
steps are trained again); a fresh start (step 0) empties it. ``read_log_history(stage_dir)``
returns the rows of every rank, the last one per (rank, step).
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from pathlib import Path

__all__ = ["MetricsLog", "log_history_files", "read_log_history"]  # noqa: F822 - MetricsLog: module __getattr__


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _file(stage_dir: Path, rank: int) -> Path:
    return stage_dir / ("log_history.jsonl" if rank == 0 else f"log_history.rank{rank}.jsonl")


def log_history_files(stage_dir: str | Path) -> list[Path]:
    stage_dir = Path(stage_dir)
    return sorted(stage_dir.glob("log_history*.jsonl"))


def _tokens_in(args: tuple, kwargs: dict) -> int:
    mask = kwargs.get("attention_mask")
    if mask is not None:
        return int(mask.sum())
    ids = kwargs.get("input_ids", args[0] if args else None)
    return int(ids.numel()) if hasattr(ids, "numel") else 0  # padding-free batches: one row, no padding


def read_log_history(stage_dir: str | Path) -> list[dict]:
    """Every rank's events (torn or foreign lines skipped), the last per (rank, step), in order."""
    rows: dict[tuple[int, int, bool], dict] = {}
    for path in log_history_files(stage_dir):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                rows[(int(row.get("rank", 0)), row["step"], "train_runtime" in row)] = row
    return [rows[k] for k in sorted(rows)]


@functools.cache
def _make_callback_class():
    from transformers import TrainerCallback

    class MetricsLog(TrainerCallback):
        """See the module docstring."""

        def __init__(self) -> None:
            self.rank, self.path, self.tokens, self.last, self._hook = _rank(), None, 0, 0.0, None

        def on_train_begin(self, args, state, control, model=None, **kw):
            self.path = _file(Path(args.output_dir).parent, self.rank)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            kept = [r for r in read_log_history(self.path.parent)
                    if r.get("rank", 0) == self.rank and r["step"] <= state.global_step and "train_runtime" not in r]
            with self.path.open("w", encoding="utf-8") as fh:  # a resumed run redoes the steps after its checkpoint
                fh.writelines(json.dumps(r) + "\n" for r in (kept if state.global_step else []))
            if model is not None and self._hook is None:
                self._hook = model.register_forward_pre_hook(self._count, with_kwargs=True)
            self.tokens, self.last = 0, time.time()

        def _count(self, module, args, kwargs):
            if module.training:
                self.tokens += _tokens_in(args, kwargs)

        def on_log(self, args, state, control, logs=None, **kw):
            if self.path is None or not logs:
                return
            now = time.time()
            row = {"rank": self.rank, "step": state.global_step, "time": round(now, 3)}
            row.update({k: v for k, v in logs.items() if isinstance(v, (int, float)) and math.isfinite(v)})
            seconds = now - self.last
            row.update(tokens=self.tokens, seconds=round(seconds, 4),
                       tokens_per_second=round(self.tokens / seconds, 2) if seconds > 0 else None)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            self.tokens, self.last = 0, now

        def on_train_end(self, args, state, control, **kw):
            if self._hook is not None:
                self._hook.remove()
                self._hook = None

    return MetricsLog


def __getattr__(name: str):
    if name == "MetricsLog":  # transformers is imported only when a trainer asks for the callback
        return _make_callback_class()
    raise AttributeError(name)

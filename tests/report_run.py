"""A small but realistic run directory, written with the run store API (``skyt1.records.Stage``):
teacher traces in Sky-T1 format with LaTeX from two sources, verdicts, rewrites, curation with
every kind of drop (wrong, truncated, duplicate of a row, contaminated by a benchmark item),
SFT training logs from two ranks, and base / trained evaluations on 30 AIME-like problems."""

from __future__ import annotations

import json
from pathlib import Path

from skyt1.cost import Ledger
from skyt1.metrics import summarize
from skyt1.records import Stage

QUESTIONS = {
    "numina/0": ("Find $x$ such that $x^2 - 5x + 6 = 0$ and $x > 2$.", "3"),
    "numina/1": ("Compute $\\sum_{k=1}^{10} k$.", "55"),
    "numina/2": ("Compute $\\sum_{k=1}^{10} k$.", "55"),  # a duplicate of numina/1
    "aops/0": ("What is $\\frac{1}{2} + \\frac{1}{3}$?", "\\frac{5}{6}"),
    "aops/1": ("Find the remainder when $2^{10}$ is divided by $7$.", "2"),  # in the benchmark below
}


def _trace(answer: str, right: bool) -> str:
    got = answer if right else "7"
    return ("<|begin_of_thought|>\n\nLet me think. We have $a^2 + b^2 = c^2$, so\n\n"
            "$$\\int_0^1 x^2\\,dx = \\frac{1}{3}$$\n\nWait, check again.\n\n<|end_of_thought|>\n\n"
            f"<|begin_of_solution|>\n\nThe answer is $\\boxed{{{got}}}$.\n\n<|end_of_solution|>")


def _stage(d: Path, name: str, rows: list[dict], summary: dict, **ledger) -> Stage:
    st = Stage(d, name, {"name": name})
    st.check()
    with st.writer() as write:
        for r in rows:
            write(r)
    led = Ledger(stage=name, **ledger)
    st.finish(summary, led.to_dict({"cpu_hour": 0.04, "gpu_hour": {"H100": 2.5}}))
    return st


def _teacher_rows() -> list[dict]:
    rows = []
    for pid, (q, a) in QUESTIONS.items():
        source = pid.split("/")[0]
        for i in range(3):
            right = i != 1
            rows.append({"id": pid, "problem_id": pid, "task": "math", "source": source, "domain": "math",
                         "question": q, "answer": a, "index": i, "model": "teacher", "response": _trace(a, right),
                         "finish_reason": "length" if (pid == "numina/0" and i == 2) else "stop",
                         "usage": {"prompt_tokens": 30, "completion_tokens": 80 + 7 * i}, "seconds": 0.1,
                         "correct": right, "extracted": a if right else "7",
                         "reason": "match" if right else "wrong_answer: 7 != " + a})
    return rows


def _curate(run: Path, rows: list[dict]) -> None:
    kept, dropped = [], []
    for r in rows:
        r = {**r, "formatted": r["response"].replace("Let me think.", "Let me think step by step.")}
        if not r["correct"]:
            dropped.append({**r, "drop_reason": "incorrect:" + r["reason"], "dropped_at": "select"})
        elif r["finish_reason"] == "length":
            dropped.append({**r, "drop_reason": "truncated", "dropped_at": "select"})
        elif r["problem_id"] == "numina/2":
            dropped.append({**r, "drop_reason": "duplicate_of:numina/1", "dropped_at": "dedup"})
        elif r["problem_id"] == "aops/1":
            dropped.append({**r, "drop_reason": "contaminated:aime24", "dropped_at": "decontaminate",
                            "contamination": {"benchmark": "aime24", "id": "aime24/7", "method": "ngram",
                                              "overlap": 0.92}})
        else:
            kept.append(r)
    steps = [{"step": "select", "in": len(rows), "kept": len(rows) - 6, "dropped": {"incorrect": 5, "truncated": 1}},
             {"step": "dedup", "in": 9, "kept": 7, "dropped": {"duplicate_of": 2}},
             {"step": "decontaminate", "in": 7, "kept": len(kept), "dropped": {"contaminated": 2}}]
    _stage(run / "curate", "curate", kept, {"input": len(rows), "kept": len(kept), "problems": 3, "steps": steps})
    with (run / "curate" / "dropped.jsonl").open("w", encoding="utf-8") as fh:
        for d in dropped:
            fh.write(json.dumps(d) + "\n")


def _train(run: Path) -> None:
    _stage(run / "train", "train", [], {"method": "full", "examples": 5, "epochs": 2, "steps": 12, "train_loss": 0.8,
                                        "tokens_per_second": 250.0}, wall_seconds=30.0, gpu_seconds=60.0,
           gpu_type="H100")
    for rank in (0, 1):
        name = "log_history.jsonl" if rank == 0 else f"log_history.rank{rank}.jsonl"
        with (run / "train" / name).open("w", encoding="utf-8") as fh:
            for step in range(1, 13):
                fh.write(json.dumps({"rank": rank, "step": step, "loss": 2.0 / step ** 0.5, "grad_norm": 3.0 / step,
                                     "learning_rate": 1e-5 * min(step / 2, (13 - step) / 11), "tokens": 500,
                                     "seconds": 4.0 + rank, "tokens_per_second": 500 / (4.0 + rank)}) + "\n")


def _evaluation(run: Path, label: str, right: set[int]) -> None:
    base = run / "evaluate" / label / "aime24"
    rows = [{"id": f"aime24/{i}", "problem_id": f"aime24/{i}", "task": "aime24", "domain": "math",
             "question": f"AIME problem {i}: find $n$ with $n^2 \\equiv {i} \\pmod{{1000}}$.", "answer": str(i),
             "index": 0, "model": label, "response": _trace(str(i), i in right), "finish_reason": "stop",
             "usage": {"prompt_tokens": 40, "completion_tokens": 120}, "seconds": 0.2, "correct": i in right,
             "extracted": str(i) if i in right else "7", "reason": "match" if i in right else "wrong_answer"}
            for i in range(30)]
    gen = _stage(base / "generate", "generate", [{k: v for k, v in r.items() if k not in ("correct", "reason")}
                                                 for r in rows],
                 {"samples": 30, "problems": 30, "model": label, "completion_tokens": 3600}, wall_seconds=12.0)
    summary = summarize(rows)
    sc = _stage(base / "score", "score", rows, summary)
    result = {**summary, "model": f"{label}-model", "label": label, "task": "aime24", "split": "test",
              "sampling": {"temperature": 0.0, "max_tokens": 256, "n": 1}, "prompt": "{question}",
              "system_prompt": None, "grader": {"verifier": "math"},
              "stages": {"generate": gen.hash, "score": sc.hash}}
    (base / "result.json").write_text(json.dumps(result), encoding="utf-8")


def make_run(run: Path) -> Path:
    """Write the run directory under ``run``; return it."""
    rows = _teacher_rows()
    _stage(run / "generate", "generate", [{k: v for k, v in r.items() if k not in ("correct", "extracted", "reason")}
                                          for r in rows],
           {"samples": len(rows), "problems": len(QUESTIONS), "model": "teacher", "completion_tokens": 1305},
           wall_seconds=20.0)
    _stage(run / "score", "score", rows, summarize(rows))
    _curate(run, rows)
    _train(run)
    _evaluation(run, "base", set(range(0, 30, 3)))  # 10 of 30
    _evaluation(run, "trained", set(range(0, 30, 3)) - {0} | {1, 2, 4, 5, 7, 8})  # fixed 6, broke 1
    return run

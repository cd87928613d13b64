"""MATH train (Hendrycks et al., 2021, "Measuring Mathematical Problem Solving With the MATH
Dataset"): 7,500 competition problems in 7 subjects and 5 levels, a training source (Sky-T1
took its MATH problems from NuminaMath's ``math`` subset, which is this set). None overlaps
MATH-500, which comes from the test split. Hub ``EleutherAI/hendrycks_math`` (one config per
subject, ``problem``/``level``/``type``/``solution``; the answer is the solution's last
``\\boxed{}``); bundled ``data/math_full/train.jsonl`` (answers, no solutions). MIT.

Problems without an answer (2 in the bundled copy) are skipped. Ids are the first 12 hex digits of
the SHA-256 of the problem text, the same from either source (the hub copy carries no file ids).
"""

from __future__ import annotations

import hashlib

from skyt1.tasks._data import load_rows, read_rows, use_hub
from skyt1.tasks.apps import SOURCE_SAMPLING
from skyt1.tasks.base import Task

__all__ = ["TASK", "last_boxed"]

HUB_ID = "EleutherAI/hendrycks_math"
SUBJECTS = (
    "algebra", "counting_and_probability", "geometry", "intermediate_algebra",
    "number_theory", "prealgebra", "precalculus",
)  # fmt: skip


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    open_at = text.find("{", start)
    if open_at < 0:
        return None
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[open_at + 1 : i].strip()
    return None


def _level(value) -> int | None:
    text = str(value).replace("Level", "").strip()
    return int(text) if text.isdigit() else None


def _problem(problem: str, answer: str, subject: str, level, **meta) -> dict:
    digest = hashlib.sha256(problem.encode("utf-8")).hexdigest()[:12]
    return {
        "id": f"math_train/{digest}",
        "task": "math_train",
        "domain": "math",
        "question": problem,
        "answer": answer,
        "meta": {"subject": subject, "level": _level(level), **meta},
    }


def _load(split: str) -> list[dict]:
    if use_hub():
        out = []
        for subject in SUBJECTS:
            for r in load_rows(HUB_ID, "train", None, config=subject):
                answer = last_boxed(r["solution"])
                if answer:
                    out.append(_problem(r["problem"], answer, r["type"], r["level"], solution=r["solution"]))
        return out
    return [
        _problem(r["problem"], r["answer"], r["subject"], r["level"], unique_id=r["unique_id"])
        for r in read_rows("math_full/train.jsonl")
        if r["answer"].strip()
    ]


TASK = Task(
    name="math_train",
    domain="math",
    verifier="math",
    load=_load,
    splits=("train",),
    description="MATH train (7,498 competition problems with answers, 7 subjects, levels 1-5), a training source",
    source=f"hub {HUB_ID} (7 subject configs); bundled data/math_full/train.jsonl",
    license="MIT",
    paper="https://arxiv.org/abs/2103.03874",
    sampling=dict(SOURCE_SAMPLING),
)

"""GPQA-Diamond (Rein et al., 2023, "GPQA: A Graduate-Level Google-Proof Q&A Benchmark"): 198
four-option questions in biology, physics and chemistry that experts answer and skilled
non-experts with web access do not. Hub ``Idavidrein/gpqa`` config ``gpqa_diamond`` (split
``train``; CC-BY-4.0), gated: accept its terms on the hub and set ``HF_TOKEN``. Never bundled:
its authors ask that the questions not be published in plain text.

Hub schema (used here): ``Question``, ``Correct Answer``, ``Incorrect Answer 1..3``,
``Record ID``, ``High-level domain``, ``Subdomain``, ``Writer's Difficulty Estimate``.
The four options are shuffled deterministically by record id
(``skyt1.verifiers.choice.shuffle_choices``), so every run shows the same letters.
"""

from __future__ import annotations

import os

from skyt1.tasks._data import load_rows, use_hub
from skyt1.tasks.base import Task

HUB_ID, CONFIG = "Idavidrein/gpqa", "gpqa_diamond"
LETTERS = "ABCD"
PROMPT = (
    "{question}\n\nPlease reason step by step, and put only the letter of your final choice "
    "(A, B, C or D) within \\boxed{}."
)


def _map_row(row: dict) -> dict:
    """One hub row -> a problem with shuffled ``choices`` and the gold letter as ``answer``."""
    from skyt1.verifiers.choice import shuffle_choices

    rid = row["Record ID"].strip()
    options = [row["Correct Answer"]] + [row[f"Incorrect Answer {i}"] for i in (1, 2, 3)]
    choices, gold = shuffle_choices(rid, [str(o).strip() for o in options], 0)
    listing = "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices))
    return {
        "id": f"gpqa_diamond/{rid}",
        "task": "gpqa_diamond",
        "domain": "science",
        "question": f"{row['Question'].strip()}\n\n{listing}",
        "choices": list(choices),
        "answer": gold,
        "meta": {
            "subject": row.get("High-level domain"),
            "subdomain": row.get("Subdomain"),
            "difficulty": row.get("Writer's Difficulty Estimate"),
        },
    }


def _has_token() -> bool:
    if os.environ.get("HF_TOKEN"):
        return True
    from huggingface_hub import get_token

    return bool(get_token())


def _load(split: str) -> list[dict]:
    if not use_hub():
        raise RuntimeError(
            f"GPQA-Diamond is gated and hub-only ({HUB_ID}, config {CONFIG}) and the hub is not "
            "reachable: check the network, unset HF_HUB_OFFLINE, or set SKYT1_DATA_SOURCE=hub"
        )
    if not _has_token():
        raise RuntimeError(
            f"GPQA-Diamond is gated: accept its terms at https://huggingface.co/datasets/{HUB_ID} "
            "and set HF_TOKEN (or run `hf auth login`)"
        )
    return [_map_row(r) for r in load_rows(HUB_ID, split, None, config=CONFIG)]


TASK = Task(
    name="gpqa_diamond",
    domain="science",
    verifier="choice",
    load=_load,
    splits=("train",),
    prompt=PROMPT,
    description="GPQA-Diamond graduate-level science multiple choice (198 questions)",
    source=f"hub {HUB_ID} (config {CONFIG}, gated); never bundled",
    license="CC-BY-4.0",
    paper="https://arxiv.org/abs/2311.12022",
    sizes={"train": 198},  # the paper's Diamond subset
    # SkyThought: "For reproducing Sky-T1-32B-Preview results on AIME and GPQADiamond, pass
    # in temperatures as 0.7" (skythought_evals/README.md); 32768 new tokens and top_p 1 are
    # its inference_and_check.py / vLLM defaults.
    sampling={"temperature": 0.7, "top_p": 1.0, "max_tokens": 32768},
)

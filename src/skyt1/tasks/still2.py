"""STILL-2's released long-form thought data (Min et al., 2024, "Imitate, Explore, and
Self-Improve: A Reproduction Report on Slow-thinking Reasoning Systems", arXiv 2412.09413): about
5k questions with a slow-thinking trace each, in math, physics, chemistry, biology, code and
puzzle. Sky-T1-32B-Preview took its science and puzzle part, about 1k (SkyThought
``recipes/sky-t1-preview/README.md``: "(3) 1k science and puzzle data from STILL-2"). Hub
``RUC-AIBOX/long_form_thought_data_5k`` (split ``train``; the STILL-2 *model* is
``RUC-AIBOX/STILL-2``), also ``data/public_long_form_thought_data_5k.jsonl`` in
RUCAIBox/Slow_Thinking_with_LLMs; released "for research purposes". Hub only: never bundled.
Public loaders read the same id, split and columns: Bespoke-Stratos' ``combine_data.py``
(``load_dataset("RUC-AIBOX/long_form_thought_data_5k")["train"]``, filtered on ``domain`` in
puzzle, physics, biology, chemistry, ``combined_text`` as the assistant turn) and oumi's registry.

Schema (that repository's ``data/README.md``), one object a row: ``question``,
``combined_text`` (``<|begin_of_thought|> ... <|end_of_thought|>`` then
``<|begin_of_solution|> ... <|end_of_solution|>``) and ``domain`` (``math``, ``physics``,
``chemistry``, ``biology``, ``code``, ``puzzle``). There is no id and no separate answer: the gold
answer is the last ``\\boxed{}`` of the solution part; a row without one cannot be verified and
is skipped (``skipped(task)`` lists it), as is a repeated question.

Sky-T1 did not regenerate these: it appended STILL-2's own traces to its data (the README; its
``scripts/combine_data.py`` appends every non-code row for an earlier 9k mix). skyt1 asks the
recipe's teacher like any source and verifies against that boxed answer; the STILL-2 trace is kept
in ``meta.reference_response`` for who wants Sky-T1's exact rows.

Tasks: ``still2-science`` (physics, chemistry, biology; domain ``science``) and ``still2-puzzle``.
Ids are ``<task>/<first 12 hex of the SHA-256 of the question>``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from functools import cache

from skyt1.tasks._code import SOURCE_SAMPLING
from skyt1.tasks.base import Task

__all__ = ["DOMAINS", "HUB_ID", "TASKS", "map_row", "skipped", "solution_part"]

log = logging.getLogger(__name__)

HUB_ID = "RUC-AIBOX/long_form_thought_data_5k"
DOMAINS = {"science": ("physics", "chemistry", "biology"), "puzzle": ("puzzle",)}  # Sky-T1's share of STILL-2
_SOLUTION_RE = re.compile(r"<\|begin_of_solution\|>(.*?)(?:<\|end_of_solution\|>|$)", re.DOTALL)
_SKIPPED: dict[str, list[dict]] = {}


def solution_part(combined_text: str) -> str:
    """The text between ``<|begin_of_solution|>`` and ``<|end_of_solution|>`` (all of it when unmarked)."""
    m = _SOLUTION_RE.search(combined_text or "")
    return m.group(1) if m else (combined_text or "")


def map_row(row: dict, task: str = "still2-science", kind: str = "science") -> dict | None:
    """One hub row -> a problem of domain ``kind``; None when its solution has no boxed answer."""
    from skyt1.verifiers.math import extract_boxed

    question = (row.get("question") or "").strip()
    answer = extract_boxed(solution_part(row.get("combined_text") or ""))
    if not question or not answer:
        return None
    return {
        "id": f"{task}/{hashlib.sha256(question.encode('utf-8')).hexdigest()[:12]}",
        "task": task,
        "domain": kind,
        "question": question,
        "answer": answer,
        "meta": {"subject": row.get("domain"), "reference_response": row.get("combined_text")},
    }


@cache
def _hub_rows() -> tuple[dict, ...]:
    from skyt1.tasks._data import load_rows, use_hub

    if not use_hub():
        raise RuntimeError(f"{HUB_ID} is hub-only and the hub is not reachable (check the network, unset "
                           "HF_HUB_OFFLINE, or set SKYT1_DATA_SOURCE=hub)")
    return tuple(load_rows(HUB_ID, "train", None))


def _load(split: str, kind: str, task: str) -> list[dict]:
    out, lost, seen = [], [], set()
    for row in _hub_rows():
        if row.get("domain") not in DOMAINS[kind]:
            continue
        p = map_row(row, task, kind)
        why = {"question": row.get("question"), "domain": row.get("domain")}
        if p is None:
            lost.append({**why, "skip_reason": "missing_answer"})
        elif p["id"] in seen:
            lost.append({**why, "skip_reason": f"duplicate_of:{p['id']}"})
        else:
            seen.add(p["id"])
            out.append(p)
    _SKIPPED[task] = lost
    if lost:
        log.warning("%s: %d rows skipped (no boxed answer or a repeated question); see still2.skipped()", task,
                    len(lost))
    return out


def skipped(task: str = "still2-science") -> list[dict]:
    """The rows the last load of ``task`` skipped, each with ``skip_reason``."""
    return list(_SKIPPED.get(task, []))


def _task(kind: str) -> Task:
    name = f"still2-{kind}"
    return Task(
        name=name,
        domain=kind,
        verifier="math",
        load=lambda split: _load(split, kind, name),
        splits=("train",),
        description=f"STILL-2 long-form thought data, {kind} ({', '.join(DOMAINS[kind])}), boxed answers; "
                    "a training source",
        source=f"hub {HUB_ID}; hub only",
        license="released for research purposes (RUCAIBox/Slow_Thinking_with_LLMs)",
        paper="https://arxiv.org/abs/2412.09413",
        sampling=dict(SOURCE_SAMPLING),
    )


TASKS = [_task(kind) for kind in DOMAINS]

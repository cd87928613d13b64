"""NuminaMath-CoT (AI-MO, 2024): about 860k competition and textbook problems with
chain-of-thought solutions, a training source. Sky-T1-32B-Preview drew its math problems from
three of its subsets, ``amc_aime``, ``math`` and ``olympiads`` (NovaSky blog "Sky-T1: Train
your own O1 preview model within $450"; SkyThought ``recipes/sky-t1-preview``). Hub
``AI-MO/NuminaMath-CoT`` (splits ``train``, ``test``; Apache-2.0), hub only: never bundled.

Hub schema: ``source`` (the subset: one of ``SOURCES``), ``problem``, ``solution`` (a worked
solution ending in a ``\\boxed{}`` answer for most subsets) and ``messages`` (the same pair as
a chat). The gold answer is the solution's last non-empty ``\\boxed{}``
(``skyt1.verifiers.math.extract_boxed``); problems without one (proofs, mostly in
``olympiads``) cannot be verified and are skipped, and so is a repeated problem text within a
task; ``skipped(split, source)`` lists both, with the reason, after a load.

Tasks: ``numina`` (every subset) and ``numina-<source>`` per subset, as ``apps-<difficulty>``.
Ids are ``<task>/<first 12 hex of the SHA-256 of the problem>``: the hub rows carry no ids.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache

from skyt1.tasks.apps import SOURCE_SAMPLING
from skyt1.tasks.base import Task

__all__ = ["HUB_ID", "SKY_T1_SOURCES", "SOURCES", "TASKS", "map_row", "skipped"]

log = logging.getLogger(__name__)

HUB_ID = "AI-MO/NuminaMath-CoT"
SOURCES = (
    "aops_forum", "amc_aime", "cn_k12", "gsm8k", "math", "olympiads", "orca_math", "synthetic_amc", "synthetic_math",
)  # fmt: skip
SKY_T1_SOURCES = ("amc_aime", "math", "olympiads")
_SKIPPED: dict[tuple[str, str | None], list[dict]] = {}


def map_row(row: dict, split: str = "train", task: str = "numina") -> dict | None:
    """One hub row -> a problem; None when its solution has no boxed answer."""
    from skyt1.verifiers.math import extract_boxed

    answer = extract_boxed(row.get("solution") or "")
    question = (row.get("problem") or "").strip()
    if not answer or not question:
        return None
    digest = hashlib.sha256(question.encode("utf-8")).hexdigest()[:12]
    return {
        "id": f"{task}/{digest}",
        "task": task,
        "domain": "math",
        "question": question,
        "answer": answer,
        "meta": {"source": row.get("source"), "solution": row.get("solution"), "split": split},
    }


@cache
def _hub_dataset(split: str):
    from skyt1.tasks._data import use_hub

    if not use_hub():
        raise RuntimeError(
            f"{HUB_ID} is hub-only and the hub is not reachable (check the network, unset "
            "HF_HUB_OFFLINE, or set SKYT1_DATA_SOURCE=hub)"
        )
    import datasets

    return datasets.load_dataset(HUB_ID, split=split)


def _map_rows(rows, split: str, source: str | None, task: str) -> tuple[list[dict], list[dict]]:
    out, lost, seen = [], [], set()
    for row in rows:
        if source and row.get("source") != source:
            continue
        p = map_row(row, split, task)
        if p is None:
            lost.append({"problem": row.get("problem"), "source": row.get("source"), "skip_reason": "missing_answer"})
        elif p["id"] in seen:
            lost.append({"problem": row.get("problem"), "source": row.get("source"),
                         "skip_reason": f"duplicate_of:{p['id']}"})
        else:
            seen.add(p["id"])
            out.append(p)
    return out, lost


def _load(split: str, source: str | None, task: str) -> list[dict]:
    ds = _hub_dataset(split)
    if source:  # select on the Arrow column: the train split holds ~860k rows
        ds = ds.select([i for i, s in enumerate(ds["source"]) if s == source])
    out, lost = _map_rows(ds, split, source, task)
    _SKIPPED[(split, source)] = lost
    if lost:
        log.warning("%s: %d rows skipped (no boxed answer or a repeated problem); see numina.skipped()",
                    task, len(lost))
    return out


def skipped(split: str = "train", source: str | None = None) -> list[dict]:
    """The rows the last load of ``split`` (and ``source``) skipped, each with ``skip_reason``."""
    return list(_SKIPPED.get((split, source), []))


def _task(source: str | None) -> Task:
    name = f"numina-{source}" if source else "numina"
    return Task(
        name=name,
        domain="math",
        verifier="math",
        load=lambda split: _load(split, source, name),
        splits=("test", "train"),
        description=f"NuminaMath-CoT problems ({source or 'every subset'}) with boxed answers, a training source",
        source=f"hub {HUB_ID}; hub only",
        license="Apache-2.0",
        paper="https://github.com/project-numina/aimo-progress-prize",
        sampling=dict(SOURCE_SAMPLING),
    )


TASKS = [_task(None)] + [_task(s) for s in SOURCES]

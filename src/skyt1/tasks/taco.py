"""TACO (Li et al., 2023, "TACO: Topics in Algorithmic COde generation dataset"): 25,443 train
and 1,000 test competitive-programming problems with stdin/stdout or call-based tests and
fine-grained labels. Sky-T1 used the MEDIUM train problems and the whole test split (SkyThought
``recipes/sky-t1-preview/recipe.py``). Hub ``BAAI/TACO`` (Apache-2.0; upstream problem
licenses vary), hub only: never bundled.

Hub schema (Arrow shards ``train/data-0000{0..8}-of-00009.arrow``, ``test/data-00000-of-00001.arrow``;
the repository's ``TACO.py`` loading script no longer runs under ``datasets`` >= 4): ``question``,
``solutions`` (JSON string), ``starter_code``, ``input_output`` (JSON string, as APPS),
``difficulty`` (EASY, MEDIUM, MEDIUM_HARD, HARD, VERY_HARD, UNKNOWN_DIFFICULTY), ``raw_tags``,
``tags``, ``skill_types`` (Python literal strings: read with ``ast.literal_eval``, never
``eval``), ``name``, ``source``, ``url``, ``date``, ``time_limit``, ``memory_limit``,
``picture_num``, ``Expected Time Complexity``, ``Expected Auxiliary Space``. There is no id
column: the native id is the row's index in its split. Problems without tests are skipped.
"""

from __future__ import annotations

import ast
from functools import cache

from skyt1.tasks._code import code_problem, code_task, load_by_difficulty, parse_io
from skyt1.tasks._data import use_hub

HUB_ID = "BAAI/TACO"
FILES = {
    "train": [f"train/data-{i:05d}-of-00009.arrow" for i in range(9)],
    "test": ["test/data-00000-of-00001.arrow"],
}
DIFFICULTIES = ("EASY", "MEDIUM", "MEDIUM_HARD", "HARD", "VERY_HARD")


def _literal(value):
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _map_row(row: dict, index: int, split: str = "test", task: str = "taco") -> dict | None:
    """One hub row (the ``index``-th of its split) -> a problem, None when it has no tests."""
    tests = parse_io(row.get("input_output") or "{}")
    if tests is None:
        return None
    meta = {k: row.get(k) for k in ("difficulty", "source", "name", "url", "date")}
    meta.update(tags=_literal(row.get("tags")), skill_types=_literal(row.get("skill_types")),
                time_limit=row.get("time_limit"), memory_limit=row.get("memory_limit"))
    return code_problem(task, split, index, row, tests, meta)


@cache
def _hub_rows(split: str) -> tuple[dict, ...]:
    if not use_hub():
        raise RuntimeError(
            f"{HUB_ID} is hub-only and the hub is not reachable (check the network, unset "
            "HF_HUB_OFFLINE, or set SKYT1_DATA_SOURCE=hub)"
        )
    import datasets

    files = [f"hf://datasets/{HUB_ID}/{f}" for f in FILES[split]]
    return tuple(dict(r) for r in datasets.load_dataset("arrow", data_files=files, split="train"))


def _load(split: str, difficulty: str | None = None, task: str = "taco") -> list[dict]:
    return load_by_difficulty(_hub_rows(split), difficulty, lambda row, i: _map_row(row, i, split, task))


def _task(difficulty: str | None):
    name = f"taco-{difficulty.lower().replace('_', '-')}" if difficulty else "taco"
    return code_task(name, lambda split: _load(split, difficulty, name),
                     what=f"TACO algorithmic problems ({difficulty or 'all difficulties'}); stdin or call-based tests",
                     source=f"hub {HUB_ID} (Arrow shards); hub only", license="Apache-2.0 (problem sources vary)",
                     paper="https://arxiv.org/abs/2312.14852")


TASKS = [_task(None)] + [_task(d) for d in DIFFICULTIES]

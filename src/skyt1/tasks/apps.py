"""APPS (Hendrycks et al., 2021, "Measuring Coding Challenge Competence With APPS"): 10,000
Python problems, 5,000 train and 5,000 test, at three difficulties (introductory, interview,
competition), with stdin/stdout or call-based tests. Sky-T1 drew its APPS traces from the
test split (SkyThought ``recipes/sky-t1-preview/recipe.py``). Hub ``codeparrot/apps`` (MIT),
hub only: never bundled.

Hub schema, one JSON object a line in ``train.jsonl`` / ``test.jsonl``: ``id`` (renamed
``problem_id`` by the repository's old loading script), ``question``, ``solutions`` (JSON
string), ``input_output`` (JSON string ``{"inputs", "outputs", "fn_name"?}``; empty for a few
problems, which are skipped: nothing could verify them), ``difficulty``, ``url``,
``starter_code``. ``datasets`` >= 4 no longer runs the repository's ``apps.py`` script, so the
JSONL files are fetched directly.

The helpers the code tasks share live in ``_code`` (re-exported here for older imports).
"""

from __future__ import annotations

from functools import cache

from skyt1.tasks._code import (
    CODE_PROMPT,
    SOURCE_SAMPLING,
    STDIN_INSTRUCTION,
    code_instruction,
    code_problem,
    code_task,
    hub_jsonl,
    io_tests,
    load_by_difficulty,
    parse_io,
)

__all__ = ["CODE_PROMPT", "SOURCE_SAMPLING", "STDIN_INSTRUCTION", "TASKS", "code_instruction", "hub_jsonl", "io_tests"]

HUB_ID = "codeparrot/apps"
DIFFICULTIES = ("introductory", "interview", "competition")


def _map_row(row: dict, split: str = "test", task: str = "apps") -> dict | None:
    """One hub row -> a problem (None when it has no usable tests)."""
    tests = parse_io(row.get("input_output") or "")
    if tests is None:
        return None
    pid = row.get("problem_id", row.get("id"))
    return code_problem(task, split, pid, row, tests, {"difficulty": row.get("difficulty"), "url": row.get("url")})


@cache
def _hub_rows(split: str) -> tuple[dict, ...]:
    return tuple(hub_jsonl(HUB_ID, [f"{split}.jsonl"]))


def _load(split: str, difficulty: str | None = None, task: str = "apps") -> list[dict]:
    return load_by_difficulty(_hub_rows(split), difficulty, lambda row, _i: _map_row(row, split, task))


def _task(difficulty: str | None):
    name = f"apps-{difficulty}" if difficulty else "apps"
    return code_task(name, lambda split: _load(split, difficulty, name),
                     what=f"APPS Python problems ({difficulty or 'all difficulties'}); stdin or call-based tests",
                     source=f"hub {HUB_ID} (train.jsonl, test.jsonl); hub only", license="MIT",
                     paper="https://arxiv.org/abs/2105.09938")


TASKS = [_task(None)] + [_task(d) for d in DIFFICULTIES]

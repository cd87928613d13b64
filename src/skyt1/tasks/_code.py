"""What the code training sources share (APPS, TACO, and the prompt pieces LiveCodeBench and
CodeContests use): the prompt, the stdin or call-based instruction, the ``input_output`` ->
tests mapping, reading JSONL files of a hub repository, one problem record and one task per
difficulty. Each source module keeps only its hub layout and its row's extra fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence

from skyt1.tasks._data import use_hub
from skyt1.tasks.base import Task

__all__ = ["CODE_PROMPT", "SOURCE_SAMPLING", "STDIN_INSTRUCTION", "code_instruction", "code_problem", "code_task",
           "hub_jsonl", "io_tests", "load_by_difficulty", "parse_io"]

# A code problem carries its own ``instruction`` (stdin/stdout or call-based, with the starter
# code), so one template serves tasks that mix both kinds (APPS, TACO, LiveCodeBench).
CODE_PROMPT = "{question}\n\n{instruction}"
STDIN_INSTRUCTION = (
    "Write a complete Python 3 program that reads the input from standard input and writes the "
    "answer to standard output. Return the program in a single ```python code block."
)
# Sky-T1 preview recipe: QwQ generated with temperature 0, max_tokens 16384
# (NovaSky-AI/SkyThought recipes/sky-t1-preview/recipe.py).
SOURCE_SAMPLING = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 16384}


def code_instruction(starter_code: str | None = None, fn_name: str | None = None) -> str:
    """What to write and in what form: a call-based solution when there is starter code or a
    function name to call, else a stdin/stdout program."""
    if starter_code and starter_code.strip():
        return (
            "Complete the starter code below. Your solution is called directly: do not read from "
            "standard input or print the answer. Return the complete solution in a single "
            f"```python code block.\n\n```python\n{starter_code.rstrip()}\n```"
        )
    if fn_name:
        return (
            f"Write a Python function named `{fn_name}` that returns the answer. It is called "
            "directly: do not read from standard input or print the answer. Return it in a "
            "single ```python code block."
        )
    return STDIN_INSTRUCTION


def io_tests(io: dict) -> dict | None:
    """APPS/TACO ``input_output`` -> the ``code`` verifier's stdin/stdout or call-based shape;
    None when there are no tests."""
    inputs, outputs = io.get("inputs") or [], io.get("outputs") or []
    if not inputs or len(inputs) != len(outputs):
        return None
    tests = {"inputs": list(inputs), "outputs": list(outputs)}
    if io.get("fn_name"):
        tests["fn_name"] = io["fn_name"]
    return tests


def parse_io(raw) -> dict | None:
    """An ``input_output`` JSON string (or its parsed dict) -> tests; None when empty or unreadable."""
    if isinstance(raw, str):
        if not raw.strip():
            return None
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return None
    return io_tests(raw) if isinstance(raw, dict) else None


def hub_jsonl(repo_id: str, filenames: Sequence[str]) -> Iterator[dict]:
    """Rows of JSONL files in a hub dataset repository, read line by line (no Arrow copy)."""
    if not use_hub():
        raise RuntimeError(
            f"{repo_id} is hub-only and the hub is not reachable (check the network, unset "
            "HF_HUB_OFFLINE, or set SKYT1_DATA_SOURCE=hub; gated sets also need HF_TOKEN)"
        )
    from huggingface_hub import hf_hub_download

    for name in filenames:
        path = hf_hub_download(repo_id, name, repo_type="dataset")
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)


def code_problem(task: str, split: str, native_id, row: dict, tests: dict, meta: dict) -> dict:
    """The problem record of a code row with ``question`` and ``starter_code``; ``meta`` is the
    source's own fields (``starter_code``, ``native_id`` and ``split`` are added)."""
    starter = row.get("starter_code") or ""
    return {
        "id": f"{task}/{split}-{native_id}",
        "task": task,
        "domain": "code",
        "question": row["question"].strip(),
        "instruction": code_instruction(starter, tests.get("fn_name")),
        "tests": tests,
        "meta": {**meta, "starter_code": starter, "native_id": native_id, "split": split},
    }


def load_by_difficulty(rows: Iterable[dict], difficulty: str | None, map_row: Callable[[dict, int], dict | None]):
    """``map_row(row, index)`` over the rows of ``difficulty`` (all when None), dropping Nones."""
    out = []
    for i, row in enumerate(rows):
        if difficulty and row.get("difficulty") != difficulty:
            continue
        problem = map_row(row, i)
        if problem is not None:
            out.append(problem)
    return out


def code_task(name: str, load: Callable[[str], list[dict]], *, what: str, source: str, license: str,
              paper: str) -> Task:
    """A code training task: ``code`` verifier, ``CODE_PROMPT``, train and test splits, Sky-T1's sampling."""
    return Task(name=name, domain="code", verifier="code", load=load, splits=("train", "test"), prompt=CODE_PROMPT,
                description=what, source=source, license=license, paper=paper, sampling=dict(SOURCE_SAMPLING))

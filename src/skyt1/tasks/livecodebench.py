"""LiveCodeBench code generation (Jain et al., 2024): LeetCode, AtCoder and Codeforces problems
collected over time with release dates, so a model can be scored on problems published after
its training cut-off. Hub ``livecodebench/code_generation_lite``, hub only (CC, see the card).

Hub schema (``test.jsonl`` .. ``test6.jsonl``; ``release_vN`` is the first N files, as the
repository's ``code_generation_lite.py`` script, which ``datasets`` >= 4 no longer runs, says):
``question_title``, ``question_content``, ``platform``, ``question_id``, ``contest_id``,
``contest_date`` (ISO), ``starter_code``, ``difficulty`` (easy|medium|hard),
``public_test_cases`` (JSON list of ``{"input", "output", "testtype": "stdin"|"functional"}``),
``private_test_cases`` (the same, as JSON or as base64(zlib(pickle(JSON string)))), ``metadata``
(JSON, ``func_name`` for LeetCode's call-based problems).

Reading the private tests: upstream ``lcb_runner/benchmarks/code_generation.py`` calls
``pickle.loads`` on hub data, which would run any code a tampered file carried. Here the pickle
is read by an unpickler that refuses every global (``find_class`` raises), so only plain
values (the expected ``str``) can come out, and the decompressed size is capped.

Tasks: ``livecodebench`` and ``-easy``/``-medium``/``-hard`` are release_v2 (May 2023 - May
2024, 511 problems), the set behind the Sky-T1 table (SkyThought ``livecodebench.yaml``);
``livecodebench-r1`` is the DeepSeek-R1 window (2024-08-01 .. 2025-01-31, release_v5).
``load(version_tag, start_date, end_date, difficulty)`` serves any other window.
"""

from __future__ import annotations

import base64
import io
import json
import pickle
import zlib
from functools import cache

from skyt1.tasks.apps import CODE_PROMPT, code_instruction, hub_jsonl
from skyt1.tasks.base import Task

__all__ = ["TASKS", "decode_tests", "load"]

HUB_ID = "livecodebench/code_generation_lite"
VERSIONS = {f"release_v{n}": [f"test{i if i > 1 else ''}.jsonl" for i in range(1, n + 1)] for n in range(1, 7)}
MAX_DECOMPRESSED = 1 << 30
# SkyThought evaluation defaults (temperature 0, 32768 new tokens: skythought_evals
# inference_and_check.py), the setting behind the Sky-T1 table.
SAMPLING = {"temperature": 0.0, "top_p": 1.0, "max_tokens": 32768}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):  # every global, hence every callable, is refused
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from hub data")


def decode_tests(blob: str) -> list[dict]:
    """LiveCodeBench test cases from plain JSON or base64(zlib(pickle(JSON string)))."""
    try:
        return json.loads(blob)
    except json.JSONDecodeError:
        pass
    inflater = zlib.decompressobj()
    raw = inflater.decompress(base64.b64decode(blob.encode("ascii")), MAX_DECOMPRESSED)
    if inflater.unconsumed_tail:
        raise ValueError(f"compressed test cases exceed {MAX_DECOMPRESSED} bytes")
    value = _PlainUnpickler(io.BytesIO(raw)).load()
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise TypeError(f"expected a JSON string inside the pickle, got {type(value).__name__}")
    return json.loads(value)


def _tests(cases: list[dict], fn_name: str | None) -> dict:
    if fn_name:
        # Functional inputs are one JSON value a line (one per argument); outputs are JSON
        # (lcb_runner/evaluation/testing_util.py grade_call_based).
        return {
            "fn_name": fn_name,
            "inputs": [[json.loads(a) for a in c["input"].split("\n") if a.strip()] for c in cases],
            "outputs": [json.loads(c["output"]) for c in cases],
        }
    return {"inputs": [c["input"] for c in cases], "outputs": [c["output"] for c in cases]}


def _map_row(row: dict, task: str = "livecodebench") -> dict:
    """One hub row -> a problem, public tests first."""
    public = decode_tests(row["public_test_cases"])
    private = decode_tests(row["private_test_cases"]) if row.get("private_test_cases") else []
    meta = json.loads(row.get("metadata") or "{}")
    fn_name = meta.get("func_name") or None
    starter = row.get("starter_code") or ""
    return {
        "id": f"{task}/{row['question_id']}",
        "task": task,
        "domain": "code",
        "question": row["question_content"].strip(),
        "instruction": code_instruction(starter, fn_name),
        "tests": _tests(public + private, fn_name),
        "meta": {
            "difficulty": row["difficulty"],
            "platform": row["platform"],
            "title": row.get("question_title"),
            "contest_id": row.get("contest_id"),
            "release_date": str(row["contest_date"])[:10],
            "starter_code": starter,
            "n_public_tests": len(public),
        },
    }


@cache
def _hub_rows(version_tag: str) -> tuple[dict, ...]:
    if version_tag not in VERSIONS:
        raise ValueError(f"version_tag must be one of {sorted(VERSIONS)}, not {version_tag!r}")
    return tuple(hub_jsonl(HUB_ID, VERSIONS[version_tag]))


def load(
    version_tag: str = "release_v2",
    start_date: str | None = None,
    end_date: str | None = None,
    difficulty: str | None = None,
    task: str = "livecodebench",
) -> list[dict]:
    """Problems of a release whose contest date is in [start_date, end_date] (ISO dates,
    inclusive), optionally of one difficulty."""
    out = []
    for row in _hub_rows(version_tag):
        day = str(row["contest_date"])[:10]
        if (start_date and day < start_date) or (end_date and day > end_date):
            continue
        if difficulty and row["difficulty"] != difficulty:
            continue
        out.append(_map_row(row, task))
    return out


def _task(name: str, description: str, sizes: dict | None = None, **window) -> Task:
    return Task(
        name=name,
        domain="code",
        verifier="code",
        load=lambda split: load(task=name, **window),
        prompt=CODE_PROMPT,
        description=description,
        source=f"hub {HUB_ID} ({window.get('version_tag', 'release_v2')}); hub only",
        license="see the dataset card (problems from LeetCode, AtCoder, Codeforces)",
        paper="https://arxiv.org/abs/2403.07974",
        sampling=dict(SAMPLING),
        sizes=sizes or {},
    )


TASKS = [
    _task("livecodebench", "LiveCodeBench release_v2 (May 2023 - May 2024), as in the Sky-T1 table",
          sizes={"test": 511}),
    *[
        _task(f"livecodebench-{d}", f"LiveCodeBench release_v2, {d} problems (Sky-T1 table)", difficulty=d)
        for d in ("easy", "medium", "hard")
    ],
    _task(
        "livecodebench-r1",
        "LiveCodeBench 2024-08-01 .. 2025-01-31 (release_v5), the DeepSeek-R1 window",
        version_tag="release_v5",
        start_date="2024-08-01",
        end_date="2025-01-31",
    ),
]

"""Every registered task: bundled ones load their bundled copy; hub-only ones are checked through
their row mapping on fixtures in the hub's schema (tests/fixtures, invented content) and fail
clearly when the hub is unreachable."""

from __future__ import annotations

import base64
import json
import os
import pickle
import re
import zlib
from pathlib import Path

import pytest

from skyt1.tasks import registry

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HUB_ONLY = re.compile(r"^(apps|taco|livecodebench|gpqa_diamond|numina|still2)(-|$)")
TASKS = registry()
BUNDLED = sorted(n for n in TASKS if not HUB_ONLY.match(n))
HUB = sorted(n for n in TASKS if HUB_ONLY.match(n))


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SKYT1_DATA_SOURCE", raising=False)


def _fixture(name: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


def _check_tests(tests: dict) -> None:
    assert isinstance(tests, dict), tests
    if "check" in tests:
        assert "def check(" in tests["check"] and tests["entry_point"].strip()
    elif "asserts" in tests:
        assert tests["asserts"] and all(a.lstrip().startswith("assert") for a in tests["asserts"])
        assert isinstance(tests.get("setup", ""), str)
    else:
        assert set(tests) <= {"inputs", "outputs", "fn_name"}, sorted(tests)
        assert tests["inputs"] and len(tests["inputs"]) == len(tests["outputs"])
        if "fn_name" in tests:
            assert isinstance(tests["fn_name"], str) and tests["fn_name"]
            assert all(isinstance(args, list) for args in tests["inputs"])
        else:
            assert all(isinstance(x, str) for x in tests["inputs"] + tests["outputs"])


def check_problem(task, p: dict) -> None:
    assert p["task"] == task.name and p["id"].startswith(f"{task.name}/")
    assert p["domain"] == task.domain and isinstance(p["question"], str) and p["question"].strip()
    if "meta" in p:
        json.dumps(p["meta"])  # records are JSONL
        assert isinstance(p["meta"], dict)
    if task.verifier == "choice":
        assert len(p["choices"]) >= 2 and all(isinstance(c, str) for c in p["choices"])
        assert p["answer"] in "ABCDEFGHIJ"[: len(p["choices"])]
    elif task.verifier == "code":
        _check_tests(p["tests"])
    else:  # answer-checking verifiers: "math", "math_int", ...
        assert isinstance(p["answer"], str) and p["answer"].strip(), p["id"]
        if task.verifier == "math_int":
            assert p["answer"].lstrip("-").isdigit(), p["answer"]
    text = task.render(p)
    assert isinstance(text, str) and p["question"].strip()[:50] in text
    assert not re.search(r"\{(question|instruction|answer|choices)\}", text), text[-200:]
    if task.verifier == "code":
        assert "```python" in text
    json.dumps(p)


def test_registry_has_the_recipe_benchmarks_and_sources():
    for name in (
        "aime24", "aime25", "amc23", "olympiadbench", "minerva_math", "gpqa_diamond", "livecodebench",
        "livecodebench-easy", "livecodebench-medium", "livecodebench-hard", "apps", "taco", "humaneval",
        "mbpp", "code_contests", "codeforces", "leetcode", "aime_historical", "math_train",
    ):  # fmt: skip
        assert name in TASKS, name


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_task_loads_every_split(name):
    task = TASKS[name]
    assert task.description and task.source and task.license
    assert set(task.sampling) >= {"temperature", "top_p", "max_tokens"} or not task.sampling
    ids = []
    for split in task.splits:
        problems = task.problems(split)
        assert problems, (name, split)
        for p in problems:
            check_problem(task, p)
        ids += [p["id"] for p in problems]
    assert len(ids) == len(set(ids)), f"{name}: duplicate ids"


@pytest.mark.parametrize(
    "name, count",
    [("aime24", 30), ("aime25", 30), ("amc23", 40), ("olympiadbench", 675), ("minerva_math", 272),
     ("humaneval", 164), ("code_contests", 165), ("codeforces", 408), ("aime_historical", 975), ("math_train", 7498)],
)  # fmt: skip
def test_bundled_sizes(name, count):
    assert len(TASKS[name].problems()) == count


def test_bundled_details():
    assert TASKS["aime24"].problems()[7]["answer"] == "25"  # "025" in the source
    assert TASKS["amc23"].problems()[0]["answer"] == "27"  # "27.0" in the source
    assert [len(TASKS["mbpp"].problems(s)) for s in ("prompt", "validation", "train", "test")] == [10, 90, 374, 500]
    leet = TASKS["leetcode"].problems()[0]["tests"]
    assert leet["entry_point"] == "Solution().minOperations" and "check(Solution()" not in leet["check"]
    assert TASKS["minerva_math"].problems()[0]["answer"]  # from the solution's last \boxed{}
    assert all(p["meta"]["year"] <= 2023 for p in TASKS["aime_historical"].problems())


@pytest.mark.parametrize("name", HUB)
def test_hub_only_task_fails_clearly_offline(name):
    with pytest.raises(RuntimeError, match="hub"):
        TASKS[name].problems()


def test_gpqa_without_a_token_says_so(monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("SKYT1_DATA_SOURCE", "hub")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(RuntimeError, match="HF_TOKEN"):
        TASKS["gpqa_diamond"].problems()


# --- hub-only mappings, on fixtures in the hub schema ---------------------------------------


def test_gpqa_mapping_and_deterministic_shuffle():
    from skyt1.tasks.gpqa_diamond import _map_row

    rows = _fixture("gpqa_diamond.jsonl")
    problems = [_map_row(r) for r in rows]
    for r, p in zip(rows, problems):
        check_problem(TASKS["gpqa_diamond"], p)
        assert p["id"] == f"gpqa_diamond/{r['Record ID']}"
        assert p["choices"][ord(p["answer"]) - ord("A")] == r["Correct Answer"].strip()
        options = [r["Correct Answer"]] + [r[f"Incorrect Answer {i}"] for i in (1, 2, 3)]
        assert sorted(p["choices"]) == sorted(o.strip() for o in options)
        assert "A) " in p["question"] and "D) " in p["question"]
        assert p["meta"]["subject"] == r["High-level domain"]
    assert [_map_row(r) for r in rows] == problems  # same letters every time


def test_livecodebench_mapping():
    from skyt1.tasks.livecodebench import _map_row

    task = TASKS["livecodebench"]
    stdin, functional, hard = (_map_row(r) for r in _fixture("livecodebench.jsonl"))
    for p in (stdin, functional, hard):
        check_problem(task, p)
    assert stdin["id"] == "livecodebench/abc900_a"
    assert stdin["tests"] == {"inputs": ["ab\n", "z\n", "xyz\n"], "outputs": ["abab\n", "zz\n", "xyzxyz\n"]}
    assert functional["tests"] == {
        "fn_name": "addLists",
        "inputs": [[[1, 2], [3, 4]], [[0], [0]]],
        "outputs": [[4, 6], [0]],
    }
    assert "class Solution" in functional["instruction"] and "standard input" in stdin["instruction"]
    assert functional["meta"]["release_date"] == "2024-03-16" and hard["meta"]["difficulty"] == "hard"


def test_livecodebench_windows_and_difficulty(monkeypatch):
    from skyt1.tasks import livecodebench as lcb

    rows = _fixture("livecodebench.jsonl")
    monkeypatch.setattr(lcb, "_hub_rows", lambda tag: rows)
    assert [p["id"] for p in TASKS["livecodebench-easy"].problems()] == ["livecodebench-easy/abc900_a"]
    assert [p["id"] for p in TASKS["livecodebench-r1"].problems()] == ["livecodebench-r1/9999_Z"]
    window = lcb.load(start_date="2023-09-02", end_date="2024-03-16")
    assert [p["meta"]["platform"] for p in window] == ["atcoder", "leetcode"]


class _Evil:
    def __reduce__(self):
        return (os.getcwd, ())  # harmless, but a call all the same


def _packed(obj) -> str:
    return base64.b64encode(zlib.compress(pickle.dumps(obj))).decode()


def test_livecodebench_private_tests_never_unpickle_globals():
    from skyt1.tasks.livecodebench import decode_tests

    cases = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    assert decode_tests(json.dumps(cases)) == cases
    assert decode_tests(_packed(json.dumps(cases))) == cases
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        decode_tests(_packed(_Evil()))
    with pytest.raises(TypeError, match="JSON string"):
        decode_tests(_packed(cases))  # a pickled list, not the expected string


def test_apps_mapping_and_filters(monkeypatch):
    from skyt1.tasks import apps

    rows = _fixture("apps.jsonl")
    stdin, call, lost = (apps._map_row(r, "test") for r in rows)
    assert lost is None  # no tests: cannot be verified
    for p in (stdin, call):
        check_problem(TASKS["apps"], p)
    assert stdin["id"] == "apps/test-4001" and stdin["tests"] == {
        "inputs": ["3\n", "10\n"],
        "outputs": ["9\n", "100\n"],
    }
    assert call["tests"]["fn_name"] == "largest" and "def largest(a, b, c):" in call["instruction"]
    monkeypatch.setattr(apps, "_hub_rows", lambda split: rows)
    assert [p["id"] for p in TASKS["apps-interview"].problems("test")] == ["apps-interview/test-4002"]
    assert len(TASKS["apps"].problems("train")) == 2


def test_taco_mapping_and_filters(monkeypatch):
    from skyt1.tasks import taco

    rows = _fixture("taco.jsonl")
    stdin, call, none = (taco._map_row(r, i, "train") for i, r in enumerate(rows))
    assert none is None
    for p in (stdin, call):
        check_problem(TASKS["taco"], p)
    assert stdin["meta"]["tags"] == ["Mathematics"] and stdin["meta"]["skill_types"] == ["Complete search"]
    assert call["tests"] == {"inputs": [["abc"]], "outputs": ["cba"], "fn_name": "reverse"}
    assert "class Solution" in call["instruction"]
    monkeypatch.setattr(taco, "_hub_rows", lambda split: rows)
    assert [p["id"] for p in TASKS["taco-medium"].problems("train")] == ["taco-medium/train-0"]


def test_still2_mapping_keeps_the_science_and_puzzle_rows_with_a_boxed_answer(monkeypatch):
    from skyt1.tasks import still2

    rows = _fixture("still2.jsonl")
    assert set(rows[0]) == {"question", "combined_text", "domain"}  # STILL-2's released layout
    monkeypatch.setattr(still2, "_hub_rows", lambda: tuple(rows))
    science, puzzle = TASKS["still2-science"].problems("train"), TASKS["still2-puzzle"].problems("train")
    for task, found in (("still2-science", science), ("still2-puzzle", puzzle)):
        for p in found:
            check_problem(TASKS[task], p)
    assert [(p["meta"]["subject"], p["answer"]) for p in science] == [
        ("physics", "2\\ \\text{s}"), ("chemistry", "4"), ("biology", "\\frac{1}{4}"), ("physics", "60")]
    assert science[-1]["meta"]["reference_response"] == rows[-1]["combined_text"]  # the trace Sky-T1 appended
    assert [p["answer"] for p in puzzle] == ["\\text{Cal}"]
    assert [s["skip_reason"] for s in still2.skipped("still2-science")] == ["missing_answer",
                                                                            f"duplicate_of:{science[1]['id']}"]
    assert [s["skip_reason"] for s in still2.skipped("still2-puzzle")] == ["missing_answer"]
    assert still2.solution_part(rows[-1]["combined_text"]).strip().startswith("$v = 150")
    assert TASKS["still2-science"].splits == ("train",) and TASKS["still2-science"].domain == "science"

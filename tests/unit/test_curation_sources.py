"""Problem sources: the NuminaMath task (hub schema, on an invented fixture) and generic
JSONL / JSON / Parquet / hub sources with a field mapping (curation.sources)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyt1.curation.sources import load_source, load_sources, map_rows, source_task
from skyt1.tasks import numina, registry

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SKYT1_DATA_SOURCE", raising=False)


def _numina_rows() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "numina.jsonl").read_text().splitlines() if line.strip()]


def test_numina_row_mapping():
    rows = _numina_rows()
    p = numina.map_row(rows[0], "train")
    assert p["id"].startswith("numina/") and len(p["id"]) == len("numina/") + 12
    assert (p["task"], p["domain"], p["answer"]) == ("numina", "math", "109")
    assert p["question"] == rows[0]["problem"] and p["meta"]["source"] == "amc_aime"
    assert p["meta"]["solution"] == rows[0]["solution"]
    assert numina.map_row(rows[1]) is None  # a proof: no boxed answer, nothing to verify
    assert numina.map_row(rows[3])["answer"] == "\\{2, 3\\}"  # braces balanced
    assert numina.map_row(rows[6])["answer"] == "\\textbf{(C)}\\ 15"  # the last non-empty \boxed
    assert numina.map_row(rows[0], task="numina-amc_aime")["id"].startswith("numina-amc_aime/")


def test_numina_tasks_filter_by_source_and_list_what_they_skip(monkeypatch):
    from datasets import Dataset

    ds = Dataset.from_list(_numina_rows())
    monkeypatch.setattr(numina, "_hub_dataset", lambda split: ds)
    tasks = registry()
    assert {"numina", "numina-amc_aime", "numina-olympiads", "numina-math"} <= set(tasks)
    assert tasks["numina"].splits[-1] == "train" and tasks["numina"].verifier == "math"
    every = tasks["numina"].problems()
    assert [p["answer"] for p in every] == ["109", "12", "\\{2, 3\\}", "7", "\\textbf{(C)}\\ 15"]
    assert {s["skip_reason"] for s in numina.skipped("train")} == {"missing_answer", f"duplicate_of:{every[1]['id']}"}
    olymp = tasks["numina-olympiads"].problems()
    assert [p["answer"] for p in olymp] == ["\\{2, 3\\}"] and olymp[0]["id"].startswith("numina-olympiads/")
    assert [s["skip_reason"] for s in numina.skipped("train", "olympiads")] == ["missing_answer"]
    assert [p["answer"] for p in tasks["numina-amc_aime"].problems("train", limit=1)] == ["109"]
    text = tasks["numina"].render(every[0])
    assert every[0]["question"] in text and "\\boxed{}" in text


def test_numina_is_hub_only():
    numina._hub_dataset.cache_clear()
    with pytest.raises(RuntimeError, match="hub"):
        registry()["numina-math"].problems()


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_jsonl_source_with_a_field_mapping(tmp_path):
    rows = [{"uid": 7, "problem": "What is 2 + 2?", "final": 4, "info": {"level": 3}},
            {"uid": 8, "problem": "What is 3 + 3?", "final": None},
            {"uid": 9, "problem": "  ", "final": "1"},
            {"uid": 10, "problem": "Solve $x + 1 = 3$.", "final": "2", "info": {"level": 1}}]
    path = _write_jsonl(tmp_path / "mine.jsonl", rows)
    skipped: list = []
    spec = {
        "path": str(path),
        "fields": {"id": "uid", "question": "problem", "answer": "final", "meta.level": "info.level"},
    }
    got = load_source(spec, skipped=skipped)
    assert [(p["id"], p["task"], p["domain"], p["answer"], p["meta"]["level"]) for p in got] == [
        ("mine/7", "mine", "math", "4", 3),
        ("mine/10", "mine", "math", "2", 1),
    ]
    assert [(s["id"], s["skip_reason"]) for s in skipped] == [
        ("mine/8", "missing_answer"),
        ("mine/9", "missing_question"),
    ]
    limited = load_source({**spec, "limit": 1, "name": "other"})
    assert [p["id"] for p in limited] == ["other/7"]
    relative = load_source({**spec, "path": "mine.jsonl"}, base_dir=tmp_path)
    assert relative == got


def test_parquet_json_and_boxed_answers(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [
        {"source": "amc", "problem": "Find $1+1$.", "solution": "Clearly $\\boxed{2}$."},
        {"source": "olympiad", "problem": "Prove it.", "solution": "Done."},
        {"source": "amc", "problem": "Find $2+1$.", "solution": "So $\\boxed{3}$."},
    ]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "n.parquet")
    (tmp_path / "n.json").write_text(json.dumps(rows))
    spec = {"fields": {"question": "problem", "answer": "boxed:solution", "meta.source": "source"}}
    for name in ("n.parquet", "n.json"):
        skipped: list = []
        got = load_source({**spec, "path": str(tmp_path / name)}, skipped=skipped)
        assert [p["answer"] for p in got] == ["2", "3"] and [s["skip_reason"] for s in skipped] == ["missing_answer"]
        assert got[0]["id"].startswith("n/") and got[0]["meta"]["source"] == "amc"
    only = load_source({**spec, "path": str(tmp_path / "n.parquet"), "where": {"source": ["olympiad", "x"]}})
    assert only == []
    amc = load_source({**spec, "path": str(tmp_path / "n.parquet"), "where": {"source": "amc"}})
    assert len(amc) == 2


def test_code_source_parses_tests_and_lists_missing_ones(tmp_path):
    io = {"inputs": ["1 2\n"], "outputs": ["3\n"]}
    rows = [
        {"q": "Add two numbers.", "input_output": json.dumps(io)},
        {"q": "Call f.", "input_output": {"inputs": [[1]], "outputs": [2], "fn_name": "f"}},
        {"q": "No tests here.", "input_output": ""},
    ]
    path = _write_jsonl(tmp_path / "code.jsonl", rows)
    skipped: list = []
    got = load_source({"path": str(path), "fields": {"question": "q", "tests": "input_output"}}, skipped=skipped)
    assert [p["tests"] for p in got] == [io, {"inputs": [[1]], "outputs": [2], "fn_name": "f"}]
    assert all(p["domain"] == "code" for p in got) and skipped[0]["skip_reason"] == "missing_tests"
    task = source_task({"path": str(path), "fields": {"question": "q", "tests": "input_output"}})
    assert task.verifier == "code" and task.splits == ("train",)
    problems = task.problems()
    assert "```python" in task.render(problems[0]) and "Add two numbers." in task.render(problems[0])


def test_repeated_questions_get_distinct_ids_and_specs_are_checked(tmp_path):
    path = _write_jsonl(tmp_path / "r.jsonl", [{"question": "Q?", "answer": "1"}, {"question": "Q?", "answer": "1"}])
    got = load_source({"path": str(path)})  # unmapped fields are read from same-named columns
    assert got[1]["id"] == got[0]["id"] + "-2"
    with pytest.raises(ValueError, match="unknown key"):
        load_source({"path": str(path), "feilds": {}})
    with pytest.raises(ValueError, match="exactly one of"):
        load_source({"path": str(path), "hub": "a/b"})
    with pytest.raises(ValueError, match="cannot map field"):
        load_source({"path": str(path), "fields": {"solution": "x"}})
    with pytest.raises(FileNotFoundError):
        load_source({"path": str(tmp_path / "missing.jsonl")})
    with pytest.raises(ValueError, match="two sources"):
        load_sources([{"path": str(path)}, {"path": str(path)}])
    both, _ = load_sources([{"path": str(path)}, {"path": str(path), "name": "again"}])
    assert len(both) == 4


def test_task_and_hub_specs():
    got = load_source({"task": "gsm8k", "split": "train", "limit": 3})
    assert [p["id"] for p in got] == ["gsm8k/train-0", "gsm8k/train-1", "gsm8k/train-2"]
    assert source_task({"task": "aime_historical"}).name == "aime_historical"
    with pytest.raises(RuntimeError, match="hub"):
        load_source({"hub": "AI-MO/NuminaMath-CoT", "fields": {"question": "problem", "answer": "boxed:solution"}})
    rows = map_rows(
        _numina_rows(),
        {"name": "nm", "where": {"source": "math"}, "fields": {"question": "problem", "answer": "boxed:solution"}},
    )
    assert [p["answer"] for p in rows] == ["12", "12"] and rows[1]["id"] == rows[0]["id"] + "-2"

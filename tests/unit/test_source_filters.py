"""Mixture sources: filters (level, difficulty, question length, domain), labels joined on the
question, the rows window and the seeded quota, with the counts each step keeps; and the 32B
recipe's sources against the mixture SkyThought published."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyt1.curation.source_filters import apply_filters, check_filters
from skyt1.curation.sources import source_problems
from skyt1.tasks import registry

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SKYT1_DATA_SOURCE", raising=False)


def _p(i, question="Q", domain="math", **meta):
    return {"id": f"s/{i}", "question": question, "domain": domain, "meta": meta}


@pytest.mark.parametrize("filters, message", [
    ({"levle": 3}, "unknown filter 'levle'"),
    ({"level": "hard"}, "filters.level: an int or a list of ints"),
    ({"level": [3, True]}, "filters.level"),
    ({"difficulty": {"above": 3}}, "filters.difficulty: bounds are gt, gte, lt, lte; got above"),
    ({"difficulty": {"gt": "3"}}, "filters.difficulty: bounds must be numbers"),
    ({"difficulty": [9, 4]}, "filters.difficulty: [lo, hi] with lo > hi"),
    ({"difficulty": [1, 2, 3]}, "filters.difficulty: give a"),
    ({"question_chars": {"max": 10, "gt": 1}}, "filters.question_chars: bounds are min, max; got gt"),
    ({"question_chars": 100}, "filters.question_chars: give a"),
    ({"domain": [1]}, "filters.domain: a string or a list of strings"),
    ([{"level": 3}], "filters is a mapping"),
])
def test_a_bad_filter_names_the_source_and_the_key(filters, message):
    with pytest.raises(ValueError, match=r"source mine: .*") as e:
        check_filters("mine", filters)
    assert message in str(e.value)
    with pytest.raises(ValueError, match="source mine"):  # also when the spec is loaded
        source_problems({"task": "gsm8k", "name": "mine", "filters": filters})


@pytest.mark.parametrize("spec, message", [
    ({"task": "gsm8k", "quota": 0}, "source gsm8k: quota must be a positive integer"),
    ({"task": "gsm8k", "quota": "10"}, "quota must be a positive integer"),
    ({"task": "gsm8k", "rows": [5, 2]}, "source gsm8k: rows is [start, end]"),
    ({"task": "gsm8k", "labels": {"from": {"task": "math_train"}}}, "labels: a mapping of 'from'"),
    ({"task": "gsm8k", "labels": {"from": {"task": "math_train"}, "copy": ["level"]}}, "labels.copy"),
    ({"task": "gsm8k", "labels": {"from": {"task": "x", "bad": 1}, "copy": ["meta.level"]}}, "unknown key(s) bad"),
])
def test_bad_selection_keys_are_errors(spec, message):
    with pytest.raises(ValueError) as e:
        source_problems(spec)
    assert message in str(e.value)


def test_each_filter_keeps_what_it_says_and_counts_in_order():
    ps = [_p(0, "a" * 10, level=3, difficulty=4.0), _p(1, "b" * 50, level=5, difficulty=9),
          _p(2, "c" * 30, "physics", level=4, difficulty="8.5"), _p(3, "d" * 20, "puzzle", level=None, difficulty=-1)]
    kept, counts = apply_filters("s", ps, {"domain": ["math", "physics"], "level": [4, 5], "question_chars": [20, 40]})
    assert [p["id"] for p in kept] == ["s/2"] and list(counts.items()) == [("level", 2), ("question_chars", 1),
                                                                          ("domain", 1)]  # always in FILTERS order
    assert [p["id"] for p in apply_filters("s", ps, {"level": 3})[0]] == ["s/0"]
    assert [p["id"] for p in apply_filters("s", ps, {"difficulty": {"gt": 8, "lt": 10}})[0]] == ["s/1", "s/2"]
    assert [p["id"] for p in apply_filters("s", ps, {"difficulty": [4, 9]})[0]] == ["s/0", "s/1", "s/2"]  # inclusive
    assert [p["id"] for p in apply_filters("s", ps, {"difficulty": {"gte": 0}})[0]] == ["s/0", "s/1", "s/2"]
    assert [p["id"] for p in apply_filters("s", ps, {"question_chars": {"min": 30}})[0]] == ["s/1", "s/2"]
    assert [p["id"] for p in apply_filters("s", ps, {"domain": "puzzle"})[0]] == ["s/3"]
    taco = [_p(0, difficulty="MEDIUM"), _p(1, difficulty="HARD"), _p(2)]
    assert [p["id"] for p in apply_filters("t", taco, {"difficulty": ["MEDIUM", "EASY"]})[0]] == ["s/0"]
    assert apply_filters("t", taco, None) == (taco, {})
    with pytest.raises(ValueError, match=r"source t: filters.level: no problem has meta.level; map a column"):
        apply_filters("t", taco, {"level": 1})


def test_a_task_source_filters_then_draws_a_seeded_quota_in_source_order():
    spec = {"task": "math_train", "split": "train", "filters": {"level": [4, 5]}, "quota": 100, "seed": 0}
    counts: dict = {}
    task, got = source_problems(spec, counts=counts)
    every = registry()["math_train"].problems("train")
    hard = [p for p in every if p["meta"]["level"] in (4, 5)]
    assert counts == {"available": len(every), "after_filters": {"level": len(hard)}, "quota": 100, "selected": 100}
    assert len(every) == 7498 and len(hard) == 3992  # the bundled MATH train: 1690 at level 4, 2302 at level 5
    assert all(p["meta"]["level"] in (4, 5) and p["source"] == "math_train" for p in got)
    order = [p["id"] for p in hard]
    assert [p["id"] for p in got] == sorted((p["id"] for p in got), key=order.index)
    assert [p["id"] for p in source_problems(spec)[1]] == [p["id"] for p in got]  # same seed, same problems
    other = [p["id"] for p in source_problems({**spec, "seed": 1})[1]]
    assert other != [p["id"] for p in got] and len(other) == 100
    assert len(source_problems({**spec, "quota": 10_000})[1]) == len(hard)  # a quota only caps
    window: dict = {}
    assert [p["id"] for p in source_problems({"task": "math_train", "rows": [2, 5]}, counts=window)[1]] == [
        p["id"] for p in every[2:5]] and window["available"] == 3


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text(json.dumps(rows) if path.suffix == ".json" else "".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_labels_join_the_math_level_on_the_question_as_skythought_did(tmp_path):
    """NuminaMath ``math`` rows get MATH's level by problem text (SkyThought d5db80d
    task_handlers.py get_difficulty_dict), then ``level: [4, 5]`` keeps the hard ones."""
    math = {p["meta"]["level"]: p for p in registry()["math_train"].problems("train")}
    rows = [{"source": "math", "problem": math[lv]["question"], "solution": f"So $\\boxed{{{lv}}}$."}
            for lv in (2, 4, 5)]
    rows.append({"source": "math", "problem": "A problem MATH does not have.", "solution": "$\\boxed{1}$"})
    path = _write(tmp_path / "numina.jsonl", rows)
    spec = {"name": "numina_math", "path": str(path), "fields": {"question": "problem", "answer": "boxed:solution"},
            "labels": {"from": {"task": "math_train", "split": "train"}, "copy": ["meta.level"]},
            "filters": {"level": [4, 5]}}
    counts: dict = {}
    _, got = source_problems(spec, counts=counts)
    assert [p["meta"]["level"] for p in got] == [4, 5] and [p["answer"] for p in got] == ["4", "5"]
    assert counts == {"available": 4, "labelled": 3, "after_filters": {"level": 2}, "quota": None, "selected": 2}


def test_labeled_numina_layout_with_a_rows_window_and_a_difficulty_range(tmp_path):
    """NovaSky's labeled NuminaMath files (a JSON list; ``gpt_difficulty_parsed`` from
    scripts/label_math_difficulty.py:81-82, -1 when unparsed): the olympiads source takes the first
    N olympiads rows before dropping unboxed ones, then difficulty in (8, 10)."""
    def row(i, source, diff, boxed=True):
        return {"source": source, "problem": f"Problem {i}", "solution": f"$\\boxed{{{i}}}$" if boxed else "Proof.",
                "messages": "", "gpt_difficulty": f"... [[{diff}]]", "gpt_difficulty_parsed": diff}
    rows = [row(0, "olympiads", 9), row(1, "amc_aime", 9), row(2, "olympiads", 8.5, boxed=False),
            row(3, "olympiads", 8), row(4, "olympiads", 9.0), row(5, "olympiads", 9)]
    path = _write(tmp_path / "labeled_olympiads_0_-1.json", rows)
    spec = {"name": "olymp", "path": str(path), "where": {"source": "olympiads"}, "rows": [0, 4],
            "fields": {"question": "problem", "answer": "boxed:solution", "meta.difficulty": "gpt_difficulty_parsed"},
            "filters": {"difficulty": {"gt": 8, "lt": 10}}}
    counts: dict = {}
    _, got = source_problems(spec, counts=counts)
    assert [p["question"] for p in got] == ["Problem 0", "Problem 4"]  # row 5 is past the window, 3 is too easy
    assert counts["available"] == 3 and counts["after_filters"] == {"difficulty": 2}  # row 2 has no boxed answer


def test_taco_difficulty_strings_filter_a_task(monkeypatch):
    from skyt1.tasks import taco

    rows = [json.loads(line) for line in (FIXTURES / "taco.jsonl").read_text().splitlines() if line.strip()]
    monkeypatch.setattr(taco, "_hub_rows", lambda split: rows)
    counts: dict = {}
    _, got = source_problems({"name": "taco_medium", "task": "taco", "filters": {"difficulty": ["MEDIUM"]}},
                             counts=counts)
    assert [p["id"] for p in got] == ["taco/train-0"] and got[0]["source"] == "taco_medium"
    assert counts["available"] == 2 and counts["after_filters"] == {"difficulty": 1}  # the third row has no tests


def test_generate_carries_each_sources_counts_into_by_source():
    from skyt1.config import GenerateConfig
    from skyt1.stages.generate import _by_source, load_mixture

    cfg = GenerateConfig(sources=[{"name": "hard", "task": "math_train", "filters": {"level": 5}, "quota": 3},
                                  {"name": "none", "task": "math_train", "filters": {"level": 9}}])
    counts: dict = {}
    problems, prompts = load_mixture(cfg, counts)
    assert [p["source"] for p in problems] == ["hard"] * 3 and set(prompts) == {p["id"] for p in problems}
    assert counts["hard"]["after_filters"] == {"level": 2302} and counts["none"]["selected"] == 0
    records = [{"source": "hard", "problem_id": p["id"], "usage": {"completion_tokens": 5}, "finish_reason": "stop"}
               for p in problems]
    by = _by_source(records, counts)
    assert by["hard"] == {"problems": 3, "samples": 3, "completion_tokens": 15, "truncated": 0, "available": 7498,
                          "after_filters": {"level": 2302}, "quota": 3}
    assert by["none"]["problems"] == 0 and by["none"]["after_filters"] == {"level": 0}
    with pytest.raises(ValueError, match="generate.limit applies to generate.task"):  # never silently ignored
        load_mixture(GenerateConfig(sources=cfg.sources, limit=5))


# The published mixture (SkyThought recipes/sky-t1-preview/README.md:16, kept traces) and the
# sources that make it (release-time commands, commit d5db80d skythought/tools/README.md:29-40 and
# util/task_handlers.py; sizes from recipes/sky-t1-preview/recipe.py:49-86).
PUBLISHED_KEPT = {"code": 5_000, "math": 10_000, "science_puzzle": 1_000}
SOURCES = [  # name, group, task or hub, split, filters, quota
    ("apps", "code", "apps", "test", None, 5000),
    ("taco_medium", "code", "taco", "train", {"difficulty": ["MEDIUM"]}, 3244),
    ("taco_test", "code", "taco", "test", None, 1000),
    ("numina_amc_aime", "math", "AI-MO/NuminaMath-CoT", "train", {"difficulty": {"gt": 0, "lt": 10}}, 4070),
    ("numina_math", "math", "AI-MO/NuminaMath-CoT", "train", {"level": [4, 5]}, 7477),
    ("numina_olympiads", "math", "AI-MO/NuminaMath-CoT", "train", {"difficulty": {"gt": 8, "lt": 10}}, 20000),
    ("still2_science", "science_puzzle", "still2-science", "train", None, 1000),
    ("still2_puzzle", "science_puzzle", "still2-puzzle", "train", None, 1000),
]


def test_the_32b_recipe_draws_the_published_mixture():
    from skyt1.config import load_recipe
    from skyt1.cost_plan import planned_problems
    from skyt1.stages.generate import mixture

    recipe = load_recipe("sky-t1-32b-preview")
    specs = {s["name"]: s for s in mixture(recipe.generate)}
    assert list(specs) == [row[0] for row in SOURCES]
    for name, _group, where, split, filters, quota in SOURCES:
        s = specs[name]
        got = (s.get("task") or s.get("hub"), s["split"], s.get("filters"), s["quota"])
        assert got == (where, split, filters, quota), name
    numina = {n: specs[n] for n in ("numina_amc_aime", "numina_math", "numina_olympiads")}
    assert {n: s["where"] for n, s in numina.items()} == {
        "numina_amc_aime": {"source": "amc_aime"}, "numina_math": {"source": "math"},
        "numina_olympiads": {"source": "olympiads"}}
    assert numina["numina_olympiads"]["rows"] == [0, 20000]
    math_labels = {"from": {"task": "math_train", "split": "train"}, "copy": ["meta.level"]}
    assert numina["numina_math"]["labels"] == math_labels
    for n in ("numina_amc_aime", "numina_olympiads"):
        labels = numina[n]["labels"]["from"]
        assert labels["hub"] == "NovaSky-AI/labeled_numina_difficulty_859K"
        assert labels["fields"]["meta.difficulty"] == "gpt_difficulty_parsed"
    for group, kept in PUBLISHED_KEPT.items():  # rejection sampling only removes: every share is reachable
        assert sum(q for _n, g, *_rest, q in SOURCES if g == group) >= kept
    assert planned_problems(recipe) == sum(row[-1] for row in SOURCES) == 42791

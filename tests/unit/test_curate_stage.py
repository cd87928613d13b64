"""The curate stage's optional steps and bookkeeping, on small hand-made verdict rows."""

from __future__ import annotations

import json

import pytest

from skyt1.config import CurateConfig, load_recipe
from skyt1.curation.mixture import check_targets, group_of, mix
from skyt1.curation.stats import TokenCounter, describe, filter_length
from skyt1.records import Stage
from skyt1.stages.curate import curate, missing_gold


def _formatted(thought: str, answer: str) -> str:
    return (f"<|begin_of_thought|>\n\n{thought}\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n"
            f"The answer is $\\boxed{{{answer}}}$.\n\n<|end_of_solution|>")


def _row(pid: str, question: str, *, index=0, answer="7", correct=True, task=None, domain="math", thought=None,
         tokens=50, meta=None, **over) -> dict:
    thought = thought or f"working on {pid} sample {index} " + "and more words " * 3
    row = {"task": task or pid.split("/")[0], "domain": domain, "question": question, "answer": answer,
           "meta": meta or {}, "problem_id": pid, "index": index, "model": "teacher",
           "response": thought + f" so \\boxed{{{answer}}}", "finish_reason": "stop",
           "usage": {"prompt_tokens": 10, "completion_tokens": tokens}, "correct": correct,
           "extracted": answer if correct else "0", "reason": "correct" if correct else "wrong_answer",
           "formatted": _formatted(thought, answer) if correct else None,
           "rewrite": "ok" if correct else "skipped:incorrect"}
    row.update(over)
    return row


def _run(tmp_path, rows, **cfg):
    config = CurateConfig(**{"name": "t", "histograms": False, **cfg})
    stage = Stage(tmp_path / "curate", "curate", config.model_dump())
    stage.check()
    summary = curate(rows, stage, config)
    dropped = [json.loads(x) for x in (stage.dir / "dropped.jsonl").read_text().splitlines()]
    return summary, stage.records(), dropped


def test_missing_gold_is_listed_and_excluded():
    assert missing_gold({"answer": "3"}) is None
    assert missing_gold({"answer": "  "}) == "answer" and missing_gold({"answer": None}) == "answer"
    assert missing_gold({"domain": "code", "tests": {"inputs": ["1"], "outputs": ["1"]}}) is None
    assert missing_gold({"domain": "code", "tests": {"inputs": [], "outputs": []}}) == "tests"
    assert missing_gold({"domain": "code", "tests": None}) == "tests"
    assert missing_gold({"domain": "code", "tests": {"check": "def check(c): pass", "entry_point": "f"}}) is None


def test_near_duplicate_detail_and_contamination_survive_into_dropped(tmp_path):
    q = "A train leaves the station at 3 pm and travels 60 miles per hour toward the city of Springfield."
    rows = [_row("a/1", q), _row("b/2", q.replace("toward", "towards")), _row("c/3", "What is 5 + 2?")]
    summary, kept, dropped = _run(tmp_path, rows)
    assert [r["problem_id"] for r in kept] == ["a/1", "c/3"]
    near = next(d for d in dropped if d["problem_id"] == "b/2")
    assert near["drop_reason"] == "near_duplicate_of:a/1" and 0.8 <= near["drop_detail"] < 1
    assert summary["removed"]["duplicates"] == [{"problem_id": "b/2", "task": "b", "question": near["question"],
                                                 "duplicate_of": "a/1", "method": "near_duplicate_of",
                                                 "similarity": near["drop_detail"]}]


def test_rewrite_failures_and_invalid_text_never_reach_the_export(tmp_path):
    rows = [_row("a/1", "What is 3 + 4?"),
            _row("a/2", "What is 6 + 1?", formatted=None, rewrite="failed: attempt 1: missing <|end_of_thought|>"),
            _row("a/3", "What is 2 + 5?", formatted="<|begin_of_thought|> x <|end_of_thought|>"),
            _row("a/4", "What is 1 + 6?", rewrite="failed: stale")]
    summary, kept, dropped = _run(tmp_path, rows)
    assert [r["problem_id"] for r in kept] == ["a/1"]
    reasons = {d["problem_id"]: d["drop_reason"] for d in dropped}
    assert reasons["a/2"].startswith("rewrite_failed:failed: attempt 1: missing")
    assert reasons["a/3"].startswith("rewrite_invalid:missing <|begin_of_solution|>")
    assert reasons["a/4"] == "rewrite_failed:failed: stale"
    exported = (tmp_path / "curate" / "t_messages.jsonl").read_text().splitlines()
    assert len(exported) == 1 and "What is 3 + 4?" in exported[0]


def test_difficulty_from_meta_and_filter(tmp_path):
    rows = [_row("aime/1", "Find the sum of the digits of 2024.", meta={"difficulty": 2.0}),
            _row("aime/2", "Find the number of primes below 100.", meta={"difficulty": 5.5}),
            _row("aime/3", "Find the largest prime below 1000.", meta={"difficulty": 9}),
            _row("gsm/4", "Tom has 3 apples and buys 4 more. How many?", meta={"difficulty": "easy"})]
    summary, kept, dropped = _run(tmp_path, rows, min_difficulty=3, max_difficulty=8)
    assert [(r["problem_id"], r["difficulty"], r["difficulty_source"]) for r in kept] == [("aime/2", 5.5, "meta")]
    reasons = {d["problem_id"]: d["drop_reason"] for d in dropped}
    assert reasons == {"aime/1": "too_easy:2", "aime/3": "too_hard:9", "gsm/4": "difficulty_unrated"}
    step = next(s for s in summary["steps"] if s["step"] == "difficulty")
    assert step["dropped"] == {"too_easy": 1, "too_hard": 1, "difficulty_unrated": 1}
    assert summary["difficulty"]["from_meta"] == 3 and summary["difficulty"]["unrated"] == 1
    with pytest.raises(ValueError, match="min_difficulty"):
        _run(tmp_path / "bad", rows, min_difficulty=8, max_difficulty=3)


def test_length_filter_counts_the_assistant_turn(tmp_path):
    rows = [_row("a/1", "What is 3 + 4?"), _row("a/2", "What is 6 + 1?", thought="word " * 400)]
    summary, kept, dropped = _run(tmp_path, rows, max_tokens=200, min_tokens=10, histograms=True)
    assert [r["problem_id"] for r in kept] == ["a/1"] and kept[0]["n_tokens"] == -(-len(kept[0]["formatted"]) // 4)
    assert dropped[0]["drop_reason"].startswith("too_long:")
    assert summary["tokens"]["counter"].startswith("approx") and summary["tokens"]["kept"]["n"] == 1
    assert (tmp_path / "curate" / "token_lengths.png").stat().st_size > 1000
    assert summary["histograms"] == {"token_lengths": str(tmp_path / "curate" / "token_lengths.png")}


def test_approximate_token_counts_and_length_filter():
    text = "<|begin_of_thought|>\n\nLet me think: 3 + 4 = 7.\n\n<|end_of_thought|>"
    assert TokenCounter(None).count([text, ""]) == [-(-len(text) // 4), 0]
    kept, dropped = filter_length([{"a": 1}, {"a": 2}], [5, 50], None, 10)
    assert kept == [{"a": 1}] and dropped[0]["drop_reason"] == "too_long:50"
    assert describe([3, 1, 2, 10]) == {"n": 4, "min": 1, "mean": 4.0, "p50": 2, "p90": 10, "max": 10}


def test_mixture_counts_shares_globs_and_determinism():
    rows = [{"problem_id": f"{src}/{i}", "index": 0, "task": src, "domain": dom}
            for src, dom, n in (("numina-math", "math", 10), ("numina-olympiads", "math", 10), ("apps", "code", 6),
                                ("taco", "code", 4)) for i in range(n)]
    kept, dropped, report = mix(rows, {"numina-*": 5, "apps": "all"}, seed=1)
    assert report["numina-*"] == {
        "groups": ["numina-math", "numina-olympiads"],
        "available": 20,
        "target": 5,
        "kept": 5,
    }
    assert sum(r["task"] == "apps" for r in kept) == 6 and not any(r["task"] == "taco" for r in kept)
    assert {d["drop_reason"] for d in dropped} == {"mixture_over_target", "mixture_unlisted:taco"}
    again, _, _ = mix(list(reversed(rows)), {"numina-*": 5, "apps": "all"}, seed=1)
    assert sorted(r["problem_id"] for r in again) == sorted(r["problem_id"] for r in kept)  # order-free, seeded
    other, _, _ = mix(rows, {"numina-*": 5, "apps": "all"}, seed=2)
    assert {r["problem_id"] for r in other} != {r["problem_id"] for r in kept}
    # shares: the largest total every share can fill (code has 10 rows -> 10 / 0.5 = 20)
    kept, _, report = mix(rows, {"math": 0.5, "code": 0.5}, by="domain")
    assert (report["math"]["kept"], report["code"]["kept"]) == (10, 10)
    kept, _, report = mix(rows, {"math": 0.75, "*": 0.25}, by="domain", total=8)
    assert (report["math"]["kept"], report["*"]["kept"]) == (6, 2)
    assert group_of(rows[0], "domain/source") == "math/numina-math"
    with pytest.raises(ValueError, match="mix counts"):
        check_targets({"a": 3, "b": 0.5})
    with pytest.raises(ValueError, match="sum to"):
        check_targets({"a": 0.7, "b": 0.5})


def test_mixture_by_problem_keeps_whole_problems(tmp_path):
    rows = [
        _row(f"{src}/{i}", f"Question {src} number {i} with {i} apples", index=j, task=src, thought=f"t{i}-{j} " * 6)
        for src in ("gsm", "math")
        for i in range(4)
        for j in range(2)
    ]
    summary, kept, dropped = _run(tmp_path, rows, mixture={"gsm": 2, "math": "all"}, mixture_unit="problem", seed=3)
    gsm = [r for r in kept if r["task"] == "gsm"]
    assert len({r["problem_id"] for r in gsm}) == 2 and len(gsm) == 4  # both samples of each chosen problem
    assert summary["mixture"]["gsm"]["kept"] == 2 and summary["steps"][-1]["step"] == "mixture"
    assert {d["drop_reason"] for d in dropped} == {"mixture_over_target"}
    with pytest.raises(ValueError, match="share"):
        _run(tmp_path / "bad", rows, mixture={"gsm": 1.5})


def test_preference_pairs_export_in_trl_form(tmp_path):
    q = "What is 3 + 4?"
    rows = [
        _row("a/1", q, index=0, tokens=10),
        _row("a/1", q, index=1, tokens=90, thought="long " * 30),
        _row("a/1", q, index=2, tokens=5, correct=False),
    ]
    summary, kept, _ = _run(tmp_path, rows, system_prompt="Be careful.")
    pairs = [json.loads(x) for x in (tmp_path / "curate" / "t_preference.jsonl").read_text().splitlines()]
    assert summary["preference_pairs"] == {
        "n": 2,
        "by_kind": {"shortest_vs_longest_correct": 1, "longer_correct_vs_short_incorrect": 1},
    }
    first = pairs[0]
    assert first["prompt"] == [{"role": "system", "content": "Be careful."}, {"role": "user", "content": q}]
    assert first["chosen"][0]["role"] == "assistant" and first["chosen"][0]["content"] == rows[0]["response"]
    assert first["rejected"][0]["content"] == rows[1]["response"]
    info = json.loads((tmp_path / "curate" / "dataset_info.json").read_text())
    assert info["t_preference"]["ranking"] is True and info["t"]["formatting"] == "sharegpt"


def test_shipped_recipes_curate_configs_validate():
    for name in ("tiny", "sky-t1-32b-preview"):
        cfg = load_recipe(name).curate
        assert cfg.mixture == {} and cfg.min_tokens is None and cfg.difficulty_rater is None
    tiny = load_recipe("tiny").curate
    assert tiny.tokenizer is None and tiny.hf_dataset is False  # the tiny run stays fast


def test_rating_parser_and_prompt():
    from skyt1.curation.difficulty import filter_difficulty, meta_difficulty, parse_rating, render_prompt

    assert parse_rating("[[7]]") == 7.0 and parse_rating("so I'd say [[ 6.5 ]]") == 6.5
    assert parse_rating("maybe [[3]]... on reflection [[5]]") == 5.0  # the last one counts
    assert parse_rating("Difficulty: 4") == 4.0 and parse_rating("**Rating:** 8") == 8.0
    assert parse_rating("[[11]]") is None and parse_rating("[[0]]") is None and parse_rating("hard") is None
    assert parse_rating("") is None and parse_rating(None) is None
    text = render_prompt("Find $\\{x\\}$ with {question} braces.", "math")
    assert "Find $\\{x\\}$ with {question} braces." in text and "AIME" in text and "[[" in text
    assert "Codeforces" in render_prompt("Sort.", "code")
    assert render_prompt("Q", template="Rate {question} ({rubric})").startswith("Rate Q (The scale")
    assert (
        meta_difficulty({"meta": {"difficulty": 4}}) == 4.0
        and meta_difficulty({"meta": {"difficulty": "hard"}}) is None
    )
    assert meta_difficulty({"meta": {"difficulty": True}}) is None and meta_difficulty({}) is None
    kept, dropped = filter_difficulty([{"difficulty": 5}, {"difficulty": None}], None, None)
    assert len(kept) == 1 and dropped[0]["drop_reason"] == "difficulty_unrated"

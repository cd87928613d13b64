"""maj@n's grouping in the verifier workers (skyt1.verifiers.vote), and the verdict type/registry."""

from __future__ import annotations

import time

import pytest

from skyt1.metrics import summarize
from skyt1.verifiers import vote
from skyt1.verifiers.math import equivalent
from skyt1.verifiers.registry import KINDS, VERIFIERS
from skyt1.verifiers.verdict import REASONS, make


def _rows(pid, answers, correct):
    return [{"problem_id": pid, "extracted": a, "correct": c} for a, c in zip(answers, correct)]


def test_classes_match_the_parent_vote():
    rows = (_rows("p", [r"\frac{1}{2}", "0.5", "3", "3", r"\dfrac12"], [True, True, False, False, True])
            + _rows("q", ["7", "07", "8"], [False, False, True])
            + _rows("r", ["x+1", "1+x", "y"], [True, True, False]))
    classes = vote.vote_classes(rows, "math", workers=2, timeout=20)
    assert classes["p"][r"\frac{1}{2}"] == classes["p"]["0.5"] == classes["p"][r"\dfrac12"] != classes["p"]["3"]
    assert classes["q"]["7"] == classes["q"]["07"] != classes["q"]["8"]
    assert summarize(rows, vote_classes=classes)["maj@n"] == summarize(rows, equivalent=equivalent)["maj@n"] == 2 / 3


def test_score_summary_votes_only_where_grouping_decides_and_agrees():
    """summarize_verdicts skips problems whose answered samples are all right or all wrong: same maj@n."""
    from skyt1.stages.score import summarize_verdicts

    rows = (_rows("mixed", [r"\frac{1}{2}", "3", "3", "0.5"], [True, False, False, True])
            + _rows("right", [r"\frac{1}{2}", "0.5", "1/2"], [True, True, True])
            + _rows("wrong", ["x", "y", "x+0"], [False, False, False])
            + _rows("one", ["5", None], [True, False]))
    full = summarize(rows, vote_classes=vote.vote_classes(rows, "math", workers=0))
    assert summarize_verdicts(rows, kind="math", workers=0) == full
    assert full["maj@n"] == 0.75


def test_exact_kinds_group_by_string():
    rows = _rows("p", ["A", "B", "A"], [True, False, True])
    assert vote.vote_classes(rows, "choice", workers=0) == {"p": {"A": 0, "B": 1}}


def _slow_equal(vote_kind):
    def eq(a, b):
        time.sleep(60)
        return False
    return eq


def test_a_hanging_comparison_falls_back_to_exact_strings(monkeypatch):
    monkeypatch.setattr(vote, "_equal", _slow_equal)  # the forked workers inherit the patch
    monkeypatch.setattr(vote, "_POOLS", {})
    rows = _rows("p", ["a", "b", "a"], [True, False, True])
    assert vote.vote_classes(rows, "math", workers=1, timeout=1.0) == {"p": {"a": 0, "b": 1}}
    vote.close_pools()


def test_verdict_reasons_and_registry():
    assert {"error", "output_limit", "truncated", "timeout"} <= set(REASONS)
    assert make(True, "4", "correct") == {"correct": True, "extracted": "4", "reason": "correct"}
    with pytest.raises(ValueError, match="unknown verdict reason"):
        make(False, None, "nope")
    with pytest.raises(ValueError, match="contradicts"):
        make(True, "4", "wrong_answer")
    assert KINDS == tuple(VERIFIERS) == ("math", "math_int", "number", "choice", "code")
    from skyt1.curation.sources import VERIFIERS as SOURCE_KINDS

    assert tuple(SOURCE_KINDS) == KINDS

"""skyt1.curation.select: rejection-sampling policies and Sky-T1-32B-Flash preference pairs."""

import pytest

from skyt1.curation.select import POLICIES, PairCollector, preference_pairs, select


def v(pid, index, correct, tokens, finish="stop", reason=None):
    return {
        "problem_id": pid,
        "task": "t",
        "domain": "math",
        "question": f"question {pid}",
        "answer": "1",
        "index": index,
        "model": "m",
        "response": f"{pid}-{index}",
        "finish_reason": finish,
        "usage": {"prompt_tokens": 10, "completion_tokens": tokens},
        "correct": correct,
        "extracted": "1" if correct else "2",
        "reason": reason or ("match" if correct else "mismatch"),
    }


@pytest.fixture
def verdicts():
    return [
        v("a", 0, True, 300),
        v("a", 1, False, 50),
        v("a", 2, True, 100),
        v("a", 3, True, 100),  # ties 2 on length: index 2 wins
        v("b", 0, False, 40, reason="no_answer"),
        v("b", 1, True, 900, finish="length"),  # truncated even though marked correct
        v("c", 1, True, 70),
        v("c", 0, True, 80),
        v("d", 0, True, 500),
    ]


def _ids(rows):
    return [r["response"] for r in rows]


def test_all_correct(verdicts):
    kept, dropped = select(verdicts, "all_correct")
    assert _ids(kept) == ["a-0", "a-2", "a-3", "c-1", "c-0", "d-0"]
    assert {r["response"]: r["drop_reason"] for r in dropped} == {
        "a-1": "incorrect:mismatch",
        "b-0": "incorrect:no_answer",
        "b-1": "truncated",
    }


def test_shortest_correct(verdicts):
    kept, dropped = select(verdicts, "shortest_correct")
    assert _ids(kept) == ["a-2", "c-1", "d-0"]
    reasons = {r["response"]: r["drop_reason"] for r in dropped}
    assert reasons["a-0"] == reasons["a-3"] == reasons["c-0"] == "not_selected"
    assert len(kept) + len(dropped) == len(verdicts)


def test_one_per_problem(verdicts):
    kept, dropped = select(verdicts, "one_per_problem")
    assert _ids(kept) == ["a-0", "c-0", "d-0"]
    assert {r["response"] for r in dropped if r["drop_reason"] == "not_selected"} == {"a-2", "a-3", "c-1"}


def test_policies_do_not_mutate_and_reject_unknown(verdicts):
    for policy in POLICIES:
        select(verdicts, policy)
    assert all("drop_reason" not in r for r in verdicts)
    with pytest.raises(ValueError, match="unknown selection policy"):
        select(verdicts, "best")


def test_preference_pairs(verdicts):
    pairs = preference_pairs(verdicts)
    assert all(set(p) == {"prompt", "chosen", "rejected", "problem_id", "kind"} for p in pairs)
    by = {(p["problem_id"], p["kind"]): (p["chosen"], p["rejected"]) for p in pairs}
    assert by == {
        ("a", "shortest_vs_longest_correct"): ("a-2", "a-0"),
        # shortest incorrect (50 tokens) vs the shortest correct that is longer than it
        ("a", "longer_correct_vs_short_incorrect"): ("a-2", "a-1"),
        ("c", "shortest_vs_longest_correct"): ("c-1", "c-0"),
    }
    assert pairs[0]["prompt"] == "question a"
    # b: the only correct sample is truncated; d: a single sample -> no pairs


def test_preference_pairs_need_distinct_lengths_and_a_longer_correct():
    same = [v("x", 0, True, 100), v("x", 1, True, 100)]
    assert preference_pairs(same) == []
    long_wrong = [v("y", 0, True, 100), v("y", 1, False, 400)]
    assert preference_pairs(long_wrong) == []


def _pair_rows(order):
    rows = []
    for p in range(6):
        for i in range(3):
            rows.append({"problem_id": f"p{p}", "index": i, "question": f"q{p}", "response": "r" * (10 + 7 * i + p),
                         "correct": (i + p) % 3 != 0, "finish_reason": "stop"})
    return [rows[k] for k in order]


@pytest.mark.parametrize("scatter", [False, True])
def test_streamed_pairs_equal_the_collectors(tmp_path, scatter):
    """StreamedPairs writes the collector's pairs while rows stream by; rows of a problem far
    apart make it give up (finish False) so the caller falls back to the collector."""
    from skyt1.curation.preference import PreferenceWriter, StreamedPairs, write_preference_exports
    from skyt1.curation.run import ProblemIds

    order = list(range(18))
    if scatter:
        order = order[1:] + order[:1]  # p0's first row comes last, after p0 was taken as over
    rows = _pair_rows(order)
    ids = ProblemIds()
    for r in rows:
        ids(r["problem_id"])
    excluded = {"p2"}
    stream = StreamedPairs(PairCollector(ids), PreferenceWriter(tmp_path / "s", "x", "sys"), excluded, window=4)
    for start in range(0, len(rows), 5):
        for i, r in enumerate(rows[start : start + 5]):
            stream.tap(start + i, r, True)
        stream.flush("question")
    ok = stream.finish("question")
    assert ok is (not scatter)
    stream.writer.close(ok)
    want = list(stream.collector.pairs(lambda pos: rows[pos], excluded))
    assert want and all(p["problem_id"] != "p2" for p in want)
    write_preference_exports(want, tmp_path / "c", "x", "sys")
    if ok:
        for name in ("x_preference.jsonl", "x_preference_sharegpt.json", "dataset_info.json"):
            assert (tmp_path / "s" / name).read_bytes() == (tmp_path / "c" / name).read_bytes()
    else:
        assert not (tmp_path / "s" / "x_preference.jsonl").exists()

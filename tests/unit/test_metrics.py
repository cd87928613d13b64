"""skyt1.metrics against hand-computed cases."""

from fractions import Fraction
from math import comb

import pytest

from skyt1.metrics import (
    mcnemar_exact,
    mean_interval,
    paired_comparison,
    pass_at_k,
    summarize,
    wilson_interval,
)


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
        (5, 2, 1, 0.4),
        (5, 2, 2, 1 - 3 / 10),  # 1 - C(3,2)/C(5,2)
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5)
        (100, 1, 1, 0.01),
        (5, 4, 2, 1.0),  # n - c < k: every draw of 2 holds a correct sample
        (5, 5, 5, 1.0),
        (5, 0, 5, 0.0),
        (8, 3, 6, 1.0),  # n - c = 5 < 6
    ],
)
def test_pass_at_k_hand_cases(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_matches_the_binomial_form():
    for n in range(1, 13):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - Fraction(comb(n - c, k), comb(n, k))
                assert pass_at_k(n, c, k) == pytest.approx(float(exact), abs=1e-12)


def test_pass_at_k_is_stable_where_binomials_overflow_floats():
    # C(2000, 1000) is ~1e600: the ratio form would overflow; the product form does not.
    exact = 1 - Fraction(comb(1997, 1000), comb(2000, 1000))
    assert pass_at_k(2000, 3, 1000) == pytest.approx(float(exact), rel=1e-9)


@pytest.mark.parametrize("n, c, k", [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def _v(pid, correct, extracted=None, finish="stop", tokens=None, meta=None):
    row = {"problem_id": pid, "correct": correct, "extracted": extracted, "finish_reason": finish}
    row["usage"] = {"completion_tokens": tokens} if tokens is not None else {}
    if meta is not None:
        row["meta"] = meta
    return row


def test_accuracy_stderr_ci_and_pass_at_k_on_a_tiny_example():
    # per-problem accuracies 0.5, 1, 0, 0.5 -> mean 0.5; sample sd sqrt(0.5/3); se = sd / 2
    rows = [
        _v("p1", True), _v("p1", False),
        _v("p2", True), _v("p2", True),
        _v("p3", False), _v("p3", False),
        _v("p4", False), _v("p4", True),
    ]  # fmt: skip
    s = summarize(rows, ks=(1, 2, 3))
    se = (0.5 / 3) ** 0.5 / 2
    assert s["n_problems"] == 4 and s["n_samples"] == 8
    assert s["accuracy"] == pytest.approx(0.5)
    assert s["stderr"] == pytest.approx(se)
    # Wilson at 4 problems (was the normal 0.5 +- 1.96 se): 2 of 4 gives [0.150, 0.850]
    assert s["ci95"] == pytest.approx(wilson_interval(0.5, 4))
    assert s["ci95"] == pytest.approx([0.15003, 0.84997], abs=1e-5)
    assert s["pass@1"] == pytest.approx(0.5)
    assert s["pass@2"] == pytest.approx(0.75)  # 1, 1, 0, 1
    assert "pass@3" not in s  # more than the 2 samples a problem has


def test_accuracy_is_the_mean_of_per_problem_means():
    # 1 of 4 correct on p1, 1 of 1 on p2: per-problem (0.25 + 1) / 2, not 2 / 5.
    rows = [_v("p1", i == 0) for i in range(4)] + [_v("p2", True)]
    s = summarize(rows)
    assert s["accuracy"] == pytest.approx(0.625)
    assert s["samples_per_problem"] == {"min": 1, "max": 4}


def test_ci_stays_in_the_unit_interval_and_is_not_empty_at_the_edges():
    s = summarize([_v("p1", True), _v("p2", True), _v("p3", True), _v("p4", False)])
    assert s["ci95"][0] < s["accuracy"] < s["ci95"][1] <= 1.0
    # all right: the normal interval would be [1, 1]; Wilson still admits a miss rate
    s = summarize([_v(f"p{i}", True) for i in range(30)])
    assert s["ci95"][1] == 1.0 and s["ci95"][0] == pytest.approx(1 - 0.11351, abs=1e-4)


def test_wilson_interval_matches_published_values():
    # 0 of 30 (an AIME year all wrong): [0, 11.35%] (Brown, Cai & DasGupta 2001 give the formula)
    assert wilson_interval(0.0, 30) == pytest.approx([0.0, 0.11351], abs=1e-5)
    assert wilson_interval(0.5, 4) == pytest.approx([0.15003, 0.84997], abs=1e-5)
    assert wilson_interval(0.3, 0) == [0.0, 1.0]
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        wilson_interval(1.5, 10)
    mean, se, ci = mean_interval([0.25, 0.75, 1.0, 0.0])
    assert mean == 0.5 and ci == wilson_interval(0.5, 4) and se > 0
    assert mean_interval([]) == (None, None, None)


def test_mcnemar_exact_p_values():
    assert mcnemar_exact(7, 1) == pytest.approx(18 / 256)  # binom.test(1, 8) in R: 0.07031
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)


def test_paired_comparison_names_fixed_and_broken_problems():
    base = [_v("a", False), _v("b", True), _v("c", True), _v("d", False), _v("x", True)]
    trained = [_v("a", True), _v("b", False), _v("c", True), _v("d", True), _v("y", True)]
    c = paired_comparison(base, trained, resamples=2000)
    assert c["n_problems"] == 4  # x and y were not answered by both
    assert c["fixed"] == ["a", "d"] and c["broke"] == ["b"]
    assert (c["both_solved"], c["neither_solved"]) == (1, 0)
    assert c["mcnemar_p"] == pytest.approx(mcnemar_exact(2, 1)) == 1.0
    assert c["difference"] == pytest.approx(0.25)
    lo, hi = c["difference_ci95"]
    assert -1 <= lo < 0.25 < hi <= 1
    assert paired_comparison(base, trained, resamples=2000) == c  # seeded: the report is reproducible
    # n samples per problem: solved means more than half right
    many = paired_comparison([_v("a", True), _v("a", False)], [_v("a", True), _v("a", True)])
    assert many["fixed"] == ["a"] and many["difference"] == pytest.approx(0.5)


def _as_number(a: str, b: str) -> bool:
    return Fraction(a) == Fraction(b)


def test_majority_groups_differently_written_equivalent_answers():
    rows = [_v("p", False, "2"), _v("p", True, "1/2"), _v("p", True, "0.5")]
    assert summarize(rows, equivalent=_as_number)["maj@n"] == 1.0
    # By exact string every answer is its own group; the tie goes to the first, "2".
    assert summarize(rows)["maj@n"] == 0.0


def test_majority_tie_goes_to_the_first_answer_seen():
    assert summarize([_v("p", False, "3"), _v("p", True, "4")])["maj@n"] == 0.0
    assert summarize([_v("p", True, "4"), _v("p", False, "3")])["maj@n"] == 1.0


def test_majority_ignores_missing_answers_and_counts_none_as_wrong():
    rows = [_v("a", False, None), _v("a", False, None), _v("a", True, "5"), _v("b", False, None)]
    assert summarize(rows)["maj@n"] == 0.5


def test_majority_over_several_problems():
    rows = [
        _v("p1", True, "7"), _v("p1", True, "7"), _v("p1", False, "8"),
        _v("p2", False, "1"), _v("p2", False, "1"), _v("p2", True, "2"),
    ]  # fmt: skip
    assert summarize(rows)["maj@n"] == 0.5


def test_token_statistics_and_truncation():
    rows = [
        _v("p1", True, tokens=100),
        _v("p1", False, finish="length", tokens=4096),
        _v("p2", True, tokens=300),
        _v("p2", False, tokens=200),
    ]
    s = summarize(rows)
    tok = s["completion_tokens"]
    assert tok["all"] == {"mean": pytest.approx(4696 / 4), "median": 250.0}
    assert tok["correct"] == {"mean": 200.0, "median": 200.0}
    assert tok["incorrect"] == {"mean": pytest.approx(2148.0), "median": 2148.0}
    assert s["truncated"] == {"n": 1, "fraction": 0.25}


def test_breakdowns_by_meta():
    rows = [
        _v("p1", True, meta={"level": 1, "subject": "Algebra"}),
        _v("p2", False, meta={"level": 2, "subject": "Algebra"}),
        _v("p3", True, meta={"level": 10, "subject": "Geometry"}),
        _v("p3", False, meta={"level": 10, "subject": "Geometry"}),
    ]
    by = summarize(rows)["by"]
    assert list(by) == ["level", "subject"]  # no "difficulty" in any meta
    assert list(by["level"]) == ["1", "2", "10"]  # numeric order
    assert by["level"]["10"] == {"accuracy": 0.5, "n": 1}
    assert by["subject"]["Algebra"] == {"accuracy": 0.5, "n": 2}


def test_empty_input():
    s = summarize([])
    assert s["n_problems"] == 0 and s["accuracy"] is None and s["maj@n"] is None
    assert s["truncated"] == {"n": 0, "fraction": None}


def test_tallies_of_disjoint_parts_merge_into_the_one_summary():
    """``Scores`` merges tallies of disjoint problem sets into what one tally of every row gives,
    to the last bit (exact sums), whatever the order: what the score stage relies on to tally part
    by part."""
    import random

    from skyt1.metrics import Scores, Tally

    rng = random.Random(0)
    rows = [_v(f"p{p}", rng.random() < 0.6, extracted=str(rng.choice([p, p + 1, 0.5])),
               meta={"level": p % 5, "subject": "ABC"[p % 3]}, tokens=rng.randint(1, 900))
            for p in range(300) for _ in range(rng.randint(2, 6))]
    whole = summarize(rows, ks=(1, 2, 3))
    parts = [Tally(r for r in rows if int(r["problem_id"][1:]) % 7 == i) for i in (3, 0, 6, 1, 5, 2, 4)]
    scores = Scores((1, 2, 3))
    for tally in parts:
        scores.add(tally)
    assert scores.summary() == whole and whole["pass@2"] > whole["pass@1"] and "pass@3" not in whole

"""skyt1.curation.decontaminate: planted benchmark problems are caught, clean ones are not."""

import pytest

from skyt1.curation.decontaminate import (
    Decontaminator,
    decontaminate,
    default_benchmarks,
    upstream_normalize,
    word_ngrams,
)
from skyt1.tasks import get_task


@pytest.fixture(scope="module")
def math500():
    return default_benchmarks(["math500"])["math500"]


@pytest.fixture(scope="module")
def decon(math500):
    return Decontaminator({"math500": math500})


def _long(math500, k):
    return [p for p in math500 if 20 <= len(p["question"].split()) <= 80][:k]


def test_reworded_benchmark_problems_are_caught_with_their_id(math500, decon):
    a, b, c, d, e = _long(math500, 5)
    qa = a["question"]
    # change a number word: the first standalone word "the" becomes "this" and a digit changes
    changed = qa.replace(" the ", " this ", 1)
    changed = next((changed.replace(ch, str((int(ch) + 1) % 10), 1) for ch in changed if ch.isdigit()), changed)
    planted = {
        "changed": changed,
        "added_sentence": "Here is a problem from a contest. " + b["question"] + " Show all your work.",
        "reordered": ", ".join(reversed(c["question"].split(", ", 1))),
        # every fifth word gets a filler: no 8-gram survives, the fuzzy check must find it
        "fuzzy": " ".join(w + (" indeed" if i % 5 == 4 else "") for i, w in enumerate(d["question"].split())),
        "exact": "  " + e["question"].upper().replace("\\DFRAC", "\\frac"),
    }
    want = {"changed": a, "added_sentence": b, "reordered": c, "fuzzy": d, "exact": e}
    for name, q in planted.items():
        hit = decon.check(q)
        assert hit is not None, name
        assert (hit["benchmark"], hit["benchmark_id"]) == ("math500", want[name]["id"]), name
    assert decon.check(planted["fuzzy"])["method"] == "fuzzy"
    assert isinstance(decon.check(planted["fuzzy"])["overlap"], float)
    assert decon.check(planted["added_sentence"])["method"] == "ngram"
    assert decon.check(e["question"])["method"] == "exact"


def test_short_benchmark_questions_are_compared_whole(math500, decon):
    short = next(p for p in math500 if p["question"] == "Compute $\\dbinom{31}{28}$.")
    assert decon.check("Compute $\\binom{31}{28}$")["benchmark_id"] == short["id"]
    hit = decon.check("Compute $\\dbinom{31}{28}$. Give the answer as an integer.")
    assert (hit["benchmark_id"], hit["method"]) == (short["id"], "ngram")
    assert decon.check("Compute $\\dbinom{31}{27}$.") is None  # a different problem


def test_no_false_positives_on_gsm8k_and_arithmetic(decon):
    gsm = get_task("gsm8k").problems("train", limit=200)
    arith = get_task("arithmetic").problems("train") + get_task("arithmetic-hard").problems("test")[:200]
    kept, removed = decontaminate(gsm + arith, decon)
    assert removed == []
    assert kept == gsm + arith


def test_arithmetic_train_is_clean_against_arithmetic_test():
    decon = Decontaminator(default_benchmarks(["arithmetic"]))  # default split: test
    assert decontaminate(get_task("arithmetic").problems("train"), decon)[1] == []
    test = get_task("arithmetic").problems("test")
    assert all(decon.check(p["question"])["method"] == "exact" for p in test)


def test_decontaminate_marks_removed_items(math500, decon):
    items = [{"id": "x/1", "question": "What is 2 + 2?"}, {"id": "x/2", "question": math500[10]["question"]}]
    kept, removed = decontaminate(items, decon)
    assert kept == items[:1]
    assert removed[0]["drop_reason"] == "contaminated:math500"
    assert removed[0]["contamination"]["benchmark_id"] == math500[10]["id"]
    assert "drop_reason" not in items[1]


def test_ngram_check_flags_everything_open_r1_flags(math500, decon):
    # open-r1 / s1: any shared 8-gram after lowercase + whitespace normalisation
    lookup = {g for p in math500 for g in word_ngrams(upstream_normalize(p["question"]), 8)}
    for p in _long(math500, 30):
        words = p["question"].split()
        window = "Consider this: " + " ".join(words[3:11]) + " and nothing else."
        assert any(g in lookup for g in word_ngrams(upstream_normalize(window), 8))
        assert decon.check(window) is not None


def test_default_benchmarks_specs():
    b = default_benchmarks(["arithmetic", "gsm8k:test"])
    assert set(b) == {"arithmetic", "gsm8k:test"}
    assert b["arithmetic"] == get_task("arithmetic").problems("test")
    assert len(b["gsm8k:test"]) == 1319
    with pytest.raises(KeyError):
        default_benchmarks(["no-such-task"])


def test_min_overlap_spares_shared_boilerplate_but_not_a_copied_problem():
    bench = {"aime": [{"id": "aime/1", "question": (
        "A bag holds 4 red and 6 blue marbles. Two are drawn without replacement. The probability that both "
        "are red is m/n, where m and n are relatively prime positive integers. Find m+n.")}]}
    boilerplate = ("Let x be the least positive real with x^3 = 7x - 6 and x > 1. Then x can be written as "
                   "m/n, where m and n are relatively prime positive integers. Find m+n.")
    copied = "Two marbles are drawn. " + bench["aime"][0]["question"]
    upstream, spared = Decontaminator(bench), Decontaminator(bench, min_overlap=0.5)
    assert upstream.check(boilerplate)["method"] == "ngram"  # the open-r1/s1 rule flags it
    assert spared.check(boilerplate) is None
    hit = spared.check(copied)
    assert hit["method"] == "ngram" and hit["benchmark_id"] == "aime/1" and hit["fraction"] == 1.0
    with pytest.raises(ValueError, match="min_overlap"):
        Decontaminator(bench, min_overlap=1.5)


def test_a_shared_template_with_other_numbers_is_not_contamination():
    bench = {"b": [{"id": "b/1", "question": "What is the remainder when 2007 is divided by 25? Give the remainder as "
                                             "a whole number between zero and the divisor."},
                   {"id": "b/2", "question": "The value of $y$ varies inversely as $\\sqrt x$ and when $x=24$, "
                                             "$y=15$. What is $x$ when $y=3$?"}]}
    other = ("What is the remainder when 1999 is divided by 7? Give the remainder as a whole number between "
             "zero and the divisor.")
    renumbered = "The value of $y$ varies inversely as $\\sqrt x$ and when $x=2$, $y=4$. What is $x$ when $y=1$?"
    guarded, loose = Decontaminator(bench, min_overlap=0.2), Decontaminator(bench, min_overlap=0.2, same_numbers=False)
    assert loose.check(renumbered)["method"] == "ngram" and guarded.check(renumbered) is None
    assert Decontaminator(bench).check(renumbered)["method"] == "ngram"  # min_overlap 0: the upstream rule, unguarded
    filler = " ".join(w + (" now" if i % 5 == 4 else "") for i, w in enumerate(other.split()))
    assert loose.check(filler)["method"] == "fuzzy" and guarded.check(filler) is None
    same = " ".join(w + (" now" if i % 5 == 4 else "") for i, w in enumerate(bench["b"][0]["question"].split()))
    assert guarded.check(same)["benchmark_id"] == "b/1"  # the same numbers: still caught
    excerpt = "Consider: the value of $y$ varies inversely as $\\sqrt x$ and when $x=24$"
    assert guarded.check(excerpt)["benchmark_id"] == "b/2"  # fewer numbers is an excerpt, not a contradiction


# --- hub-only benchmarks (GPQA-Diamond, LiveCodeBench): used when loadable, never skipped ------

FIXTURES = __import__("pathlib").Path(__file__).resolve().parent.parent / "fixtures"


def _fixture_rows(name: str) -> list[dict]:
    import json

    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", ["gpqa_diamond", "livecodebench"])
def test_an_unloadable_hub_only_benchmark_stops_decontamination_naming_it(monkeypatch, name):
    from skyt1.curation.decontaminate import BenchmarkUnavailable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BenchmarkUnavailable, match=rf"curate.decontaminate: benchmark '{name}' cannot be loaded "
                                                   r"\(hub .*hub.*remove it from curate.decontaminate"):
        default_benchmarks(["math500", name])


def test_hub_only_benchmarks_decontaminate_from_their_hub_rows(monkeypatch):
    """GPQA-Diamond and LiveCodeBench rows (fixtures in the hub schema) go through the tasks'
    own loaders and mappings; a training question copied from either is removed."""
    from skyt1.tasks import gpqa_diamond
    from skyt1.tasks import livecodebench as lcb

    gpqa_rows, lcb_rows = _fixture_rows("gpqa_diamond.jsonl"), _fixture_rows("livecodebench.jsonl")
    monkeypatch.setattr(gpqa_diamond, "use_hub", lambda: True)
    monkeypatch.setattr(gpqa_diamond, "_has_token", lambda: True)
    monkeypatch.setattr(gpqa_diamond, "load_rows", lambda hub, split, bundled, config=None: gpqa_rows)
    monkeypatch.setattr(lcb, "_hub_rows", lambda tag: lcb_rows)
    bench = default_benchmarks(["gpqa_diamond", "livecodebench"])
    assert len(bench["gpqa_diamond"]) == len(gpqa_rows) and len(bench["livecodebench"]) == len(lcb_rows)
    decon = Decontaminator(bench)
    science, code = gpqa_rows[0]["Question"], lcb_rows[0]["question_content"]
    items = [{"id": "s", "question": "Question: " + science}, {"id": "c", "question": code},
             {"id": "ok", "question": "How many positive divisors does 360 have? Count them all carefully."}]
    kept, removed = decontaminate(items, decon)
    assert [i["id"] for i in kept] == ["ok"]
    assert {r["id"]: r["contamination"]["benchmark"] for r in removed} == {"s": "gpqa_diamond", "c": "livecodebench"}


def test_the_32b_recipes_decontaminate_against_every_benchmark_they_evaluate():
    from skyt1.config import load_recipe

    for name in ("sky-t1-32b-preview", "sky-t1-32b-flash"):
        r = load_recipe(name)
        evaluated = {t.split(":")[0].removesuffix("-easy").removesuffix("-medium").removesuffix("-hard")
                     for t in r.evaluate.tasks}
        assert evaluated <= set(r.curate.decontaminate), (name, evaluated - set(r.curate.decontaminate))

"""skyt1.curation.thought: the Sky-T1 thought/solution format."""

from skyt1.curation.thought import (
    BEGIN_SOLUTION,
    BEGIN_THOUGHT,
    END_SOLUTION,
    END_THOUGHT,
    check_format,
    format_structural,
)

MATH = (
    "We need the sum of 17 and 25.\n\n"
    "First, 17 + 25: 17 + 20 = 37, and 37 + 5 = 42.\n\n"
    "Wait, let me double-check: 25 + 17 = 42 as well. So the answer is \\boxed{42}.\n\n"
    "Yes, \\boxed{42}."
)
CODE = (
    "We read n and print the sum of 1..n.\n\n"
    "A first try:\n```python\nprint(sum(range(int(input()))))\n```\n"
    "That is off by one. Fixed:\n```python\nn = int(input())\nprint(n * (n + 1) // 2)\n```\n"
)


def wrap(thought, solution):
    return f"{BEGIN_THOUGHT}\n\n{thought}\n\n{END_THOUGHT}\n\n{BEGIN_SOLUTION}\n\n{solution}\n\n{END_SOLUTION}"


def test_structural_math_passes_the_checker():
    out = format_structural(MATH, "42", "math")
    assert check_format(out, original=MATH, domain="math") == []
    solution = out.split(BEGIN_SOLUTION)[1]
    assert solution.count("\\boxed{42}") == 1
    assert out.startswith(BEGIN_THOUGHT + "\n\n") and out.endswith("\n\n" + END_SOLUTION)


def test_structural_adds_the_boxed_answer_and_handles_nested_braces():
    out = format_structural("3 + 4 = 7.\n\nSo it is 7.", "7", "math")
    assert check_format(out, original="3 + 4 = 7. So it is 7.") == []
    assert "\\boxed{7}" in out.split(BEGIN_SOLUTION)[1]
    frac = "Half of one is \\boxed{\\frac{1}{2}}, i.e. \\boxed{\\frac{1}{2}}."
    out = format_structural(frac, "\\frac{1}{2}", "math")
    assert check_format(out, original=frac) == []


def test_structural_code_and_r1_style():
    out = format_structural(CODE, None, "code")
    assert check_format(out, original=CODE, domain="code") == []
    assert "n * (n + 1) // 2" in out.split(BEGIN_SOLUTION)[1]
    r1 = "<think>\n2 times 3 is 6.\n</think>\n\nThe product is \\boxed{6}."
    out = format_structural(r1, "6", "math")
    assert check_format(out, original=r1) == []
    assert "<think>" not in out


def test_already_formatted_is_unchanged():
    text = wrap("Think: 1 + 1 = 2.", "The answer is \\boxed{2}.")
    assert format_structural(text, "2") == text


def test_checker_catches_missing_and_duplicated_markers():
    good = wrap("1 + 1 = 2.", "\\boxed{2}")
    assert check_format(good) == []
    assert check_format(good.replace(END_THOUGHT, "")) == [f"missing {END_THOUGHT}"]
    dup = good.replace(BEGIN_SOLUTION, BEGIN_SOLUTION + " " + BEGIN_SOLUTION)
    assert check_format(dup) == [f"{BEGIN_SOLUTION} appears 2 times"]
    swapped = f"{BEGIN_SOLUTION} x {END_SOLUTION} {BEGIN_THOUGHT} y {END_THOUGHT}"
    assert check_format(swapped) == ["markers out of order"]
    assert "text outside the markers" in check_format("Preamble. " + good)


def test_checker_catches_answer_count():
    assert any("2 \\boxed" in p for p in check_format(wrap("t", "\\boxed{1} or \\boxed{2}")))
    assert any("0 \\boxed" in p for p in check_format(wrap("t", "The answer is 2.")))
    two_blocks = wrap("t", "```python\na=1\n```\n```python\nb=2\n```")
    assert check_format(two_blocks, domain="code") == ["solution has 2 code blocks, want exactly 1"]
    assert check_format(wrap("t", "```python\nprint(1)\n```"), domain="code") == []
    assert "empty thought" in check_format(wrap("  ", "\\boxed{1}"))


def test_checker_catches_invented_thought_content():
    invented = (
        "Let us use the Pythagorean theorem on the triangle with legs 17 and 25, then take the "
        "hypotenuse modulo 7 and compare it with the area of a circle of radius 3."
    )
    problems = check_format(wrap(invented, "\\boxed{42}"), original=MATH)
    assert len(problems) == 1 and problems[0].startswith("thought not faithful to the original")
    # a faithful light rewrite (steps relabelled, whitespace changed) passes
    faithful = "Step 1: We need the sum of 17 and 25.\nStep 2: First, 17 + 25: 17 + 20 = 37, and 37 + 5 = 42."
    assert check_format(wrap(faithful, "\\boxed{42}"), original=MATH) == []


def test_normalize_words_equals_dedup_normalize():
    """thought_overlap's fast normalisation is dedup.normalize, word for word, on random LaTeX-ish text."""
    import random

    from skyt1.curation.dedup import normalize
    from skyt1.curation.thought import normalize_words

    pieces = ["\\frac", "\\dfrac", "\\tbinom", "\\text{a b}", "\\left(", "\\right]", "\\,", "\\quad", "\\$", "$",
              "{", "}", "~", "^", "_", "(", ")", "[", "]", ".", ",", ";", ":", "!", "?", '"', "'", "`", "3", "14",
              "x", "Word", "ＡＢ", "①", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\\displaystyle", "\\bigl", "é"]
    rng = random.Random(0)
    texts = ["", " ", "3.5 and 1,000.", "x ^ 2 _ { i } ( a ) [ b ]", "a ) ( b", "^ ^ _"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 60))) for _ in range(3000)]
    for text in texts:
        assert normalize_words(text) == normalize(text).split(), repr(text)


def test_thought_overlap_counts_ngrams_as_before():
    """The contiguous shortcut and the n-gram count agree with the plain definition."""
    import random

    from skyt1.curation.dedup import normalize
    from skyt1.curation.thought import thought_overlap

    def plain(thought, original, n=3):
        t, o = normalize(thought).split(), normalize(original).split()
        n = 1 if len(t) < n else n
        grams = [tuple(t[i : i + n]) for i in range(len(t) - n + 1)]
        have = {tuple(o[i : i + n]) for i in range(len(o) - n + 1)}
        return sum(g in have for g in grams) / len(grams) if grams else 1.0

    rng = random.Random(1)
    words = ["so", "x", "3.5", "3.", "5", "(a", "b)", "\\frac{1}{2}", "wait", "$y$", "^", "\n\n"]
    for _ in range(2000):
        original = " ".join(rng.choice(words) for _ in range(rng.randint(0, 40)))
        cut = sorted(rng.randint(0, len(original)) for _ in range(2))
        thought = original[cut[0] : cut[1]] if rng.random() < 0.7 else " ".join(rng.choice(words) for _ in range(9))
        assert thought_overlap(thought, original) == plain(thought, original), (thought, original)

"""The Sky-T1 thought/solution format: a structural formatter and a checker.

Sky-T1-32B-Preview was trained on traces rewritten (by GPT-4o-mini) into::

    <|begin_of_thought|>\\n\\n{thought}\\n\\n<|end_of_thought|>\\n\\n
    <|begin_of_solution|>\\n\\n{solution}\\n\\n<|end_of_solution|>

(one string, wrapped here: the markers and layout of NovaSky-AI/SkyThought's system prompt and
ShareGPT conversion, also used by Bespoke-Stratos). ``format_structural`` produces that layout
without a model; ``check_format`` vets any rewrite, from a model or not.

``format_structural(response, extracted, domain)`` heuristic (a response that already passes
``check_format`` is returned unchanged):

- stray markers and R1-style ``<think>`` tags are removed; when the response has a ``</think>``
  the text before it is the thought and the text after it is the solution source;
- code (``domain == "code"``): the solution is the last fenced code block (or ``extracted``
  fenced as Python when there is none); the thought is the rest;
- anything else after a ``</think>``: the whole text after it is the solution (R1's summary);
- anything else (math, science, puzzle): paragraphs are split on blank lines; the solution is
  the last paragraph holding a ``\\boxed{..}`` (else the last one holding ``extracted``); the
  thought is every other paragraph, in order (the whole response when nothing else is left). A
  one-paragraph trace stays whole as the thought, and the solution just states the answer.
  The solution keeps exactly one ``\\boxed``: earlier ones in it are unwrapped, and when there
  is none ``The final answer is $\\boxed{extracted}$.`` is appended.

``check_format(text, original=None, domain="math", min_overlap=0.6, answer=None) -> list[str]`` returns the
problems found (empty: the text is well formed): each marker exactly once and in order, nothing
but whitespace outside them, a non-empty thought and solution, exactly one ``\\boxed`` in the
solution (exactly one fenced code block for code) and, given the ``original`` trace, a thought
whose word trigrams (after ``dedup.normalize``) are at least ``min_overlap`` found in the
original: a rewrite may reorganise a trace, not invent one. Given ``answer`` (the verified
``extracted`` answer), the solution must state that answer: its ``\\boxed`` content equals
``answer`` after ``dedup.normalize`` with spaces removed (or both are the same number); for
code, its code block holds the verified program (lines compared with trailing spaces and blank
lines ignored). A rewriter that changed the answer would turn a verified trace into an
unverified one.
"""

from __future__ import annotations

import re
import unicodedata

from skyt1.curation.dedup import _SIZING, _SPACING, _WRAPPERS, normalize

__all__ = [
    "BEGIN_SOLUTION",
    "BEGIN_THOUGHT",
    "END_SOLUTION",
    "END_THOUGHT",
    "MARKERS",
    "boxed_spans",
    "check_format",
    "code_blocks",
    "format_structural",
    "same_answer",
    "thought_overlap",
]

BEGIN_THOUGHT, END_THOUGHT = "<|begin_of_thought|>", "<|end_of_thought|>"
BEGIN_SOLUTION, END_SOLUTION = "<|begin_of_solution|>", "<|end_of_solution|>"
MARKERS = (BEGIN_THOUGHT, END_THOUGHT, BEGIN_SOLUTION, END_SOLUTION)
_CODE = re.compile(r"```[^\n`]*\n.*?```", re.DOTALL)


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` of each ``\\boxed{...}``, braces matched."""
    out = []
    for m in re.finditer(r"\\boxed\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append((m.start(), i, text[m.end() : i - 1]))
    return out


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of ``text``."""
    return _CODE.findall(text)


def _one_boxed(solution: str, extracted: str | None) -> str:
    spans = boxed_spans(solution)
    for start, end, content in reversed(spans[:-1]):
        solution = solution[:start] + content + solution[end:]
    if not spans and extracted:
        solution = (solution + "\n\n" if solution else "") + f"The final answer is $\\boxed{{{extracted}}}$."
    return solution


def format_structural(response: str, extracted: str | None = None, domain: str = "math") -> str:
    """Wrap a raw trace in the Sky-T1 markers; see the module docstring for the heuristic."""
    text = response or ""
    if not check_format(text, domain=domain):
        return text
    for marker in (*MARKERS, "<think>"):
        text = text.replace(marker, "")
    head, sep, tail = text.partition("</think>")
    if sep:
        thought, source = head.strip(), tail.strip()
    else:
        thought, source = "", text.strip()
    if domain == "code":
        blocks = list(_CODE.finditer(source))
        if blocks:
            m = blocks[-1]
            solution, rest = m.group(0), (source[: m.start()] + source[m.end() :]).strip()
        else:
            solution, rest = (f"```python\n{extracted.strip()}\n```" if extracted else ""), source
    elif sep:
        solution, rest = _one_boxed(source, extracted), ""
    else:
        paras = [p.strip() for p in re.split(r"\n\s*\n", source) if p.strip()]
        pick = [i for i, p in enumerate(paras) if boxed_spans(p)]
        if not pick and extracted:
            pick = [i for i, p in enumerate(paras) if extracted in p]
        if pick and len(paras) == 1 and extracted:
            # A one-paragraph trace is the thought; repeating it as the solution would only
            # teach the student to say everything twice, so the solution states the answer.
            solution, rest = "", source
        elif pick:
            solution = paras[pick[-1]]
            rest = "\n\n".join(p for i, p in enumerate(paras) if i != pick[-1])
        else:
            solution, rest = "", source
        solution = _one_boxed(solution, extracted)
    if not thought:
        thought = rest or source
    return f"{BEGIN_THOUGHT}\n\n{thought}\n\n{END_THOUGHT}\n\n{BEGIN_SOLUTION}\n\n{solution}\n\n{END_SOLUTION}"


_BLANKS = str.maketrans(dict.fromkeys("${}~;:!?\"'`", " "))
_POINT = re.compile(r"[.,](?!(?<=\d.)\d)")  # a . or , not between two digits


def normalize_words(text: str) -> list[str]:
    """``dedup.normalize(text).split()``, computed faster (``_normalized``)."""
    s = _normalized(text)
    return s.split(" ") if s else []


def _normalized(text: str) -> str:
    """``dedup.normalize(text)``: the same steps, with its last five regex passes (over every character
    of a trace) done by ``str.translate``, one regex that starts with its character class, and
    ``str.replace`` on the single-spaced text. Equal by construction and by test
    (``tests/unit/test_curation_thought.py`` compares the two on random text)."""
    s = unicodedata.normalize("NFKC", text or "").lower().replace("\\$", " ")
    if "\\" in s:  # the LaTeX-command passes of dedup.normalize
        s = re.sub(r"\\[dt]frac(?![a-z])", r"\\frac", s)
        s = re.sub(r"\\[dt]binom(?![a-z])", r"\\binom", s)
        s = _WRAPPERS.sub(" ", s)
        s = _SPACING.sub(" ", s)
        s = _SIZING.sub("", s)
    s = " ".join(_POINT.sub(" ", s.translate(_BLANKS)).split())
    # The text is single-spaced now: dropping every space next to ^ or _, after ( or [, before ) or ],
    # is what dedup.normalize's last two substitutions do.
    for old, new in ((" ^", "^"), ("^ ", "^"), (" _", "_"), ("_ ", "_"), ("( ", "("), ("[ ", "["), (" )", ")"),
                     (" ]", "]")):
        if old in s:
            s = s.replace(old, new)
    return s


def thought_overlap(thought: str, original: str, n: int = 3) -> float:
    """Fraction of the thought's normalised word n-grams found in ``original`` (unigrams when
    the thought is shorter than ``n`` words); 1.0 for an empty thought."""
    norm_thought, norm_original = _normalized(thought), _normalized(original)
    t = norm_thought.split(" ") if norm_thought else []
    if len(t) < n:
        n = 1
    if len(t) < n:
        return 1.0
    if f" {norm_thought} " in f" {norm_original} ":  # the words run unbroken in the original: every n-gram is there
        return 1.0
    o = norm_original.split(" ") if norm_original else []
    grams = list(zip(*(t[i:] for i in range(n))))
    have = set(zip(*(o[i:] for i in range(n))))
    return sum(map(have.__contains__, grams)) / len(grams)


def _canon_answer(s: str) -> str:
    return normalize(s).replace(" ", "")


def same_answer(a: str, b: str) -> bool:
    """Whether two final answers are written the same (``dedup.normalize``, spaces removed), or
    are the same number. Deliberately textual: equivalent forms written differently differ."""
    x, y = _canon_answer(a), _canon_answer(b)
    if x == y:
        return True
    try:
        return float(x.replace(",", "")) == float(y.replace(",", ""))
    except ValueError:
        return False


def _code_lines(code: str) -> list[str]:
    lines = [ln.rstrip() for ln in code.strip().splitlines()]
    if lines and lines[0].startswith("```"):
        lines = lines[1:-1] if lines[-1].strip() == "```" else lines[1:]
    return [ln for ln in lines if ln.strip()]


def check_format(
    text: str,
    original: str | None = None,
    domain: str = "math",
    min_overlap: float = 0.6,
    answer: str | None = None,
) -> list[str]:
    """Problems with a Sky-T1-formatted ``text`` (empty list: well formed)."""
    problems = []
    for marker in MARKERS:
        n = text.count(marker)
        if n != 1:
            problems.append(f"missing {marker}" if n == 0 else f"{marker} appears {n} times")
    if problems:
        return problems
    pos = [text.index(m) for m in MARKERS]
    if pos != sorted(pos):
        return ["markers out of order"]
    ends = [p + len(m) for p, m in zip(pos, MARKERS)]
    thought, solution = text[ends[0] : pos[1]].strip(), text[ends[2] : pos[3]].strip()
    if text[: pos[0]].strip() or text[ends[1] : pos[2]].strip() or text[ends[3] :].strip():
        problems.append("text outside the markers")
    if not thought:
        problems.append("empty thought")
    if not solution:
        problems.append("empty solution")
    if original is not None and thought:
        score = thought_overlap(thought, original)
        if score < min_overlap:
            problems.append(f"thought not faithful to the original: overlap {score:.2f} < {min_overlap}")
    if domain == "code":
        blocks = code_blocks(solution)
        if len(blocks) != 1:
            problems.append(f"solution has {len(blocks)} code blocks, want exactly 1")
        elif answer is not None and _code_lines(blocks[0]) != _code_lines(answer):
            problems.append("solution code differs from the verified code")
    else:
        spans = boxed_spans(solution)
        if len(spans) != 1:
            problems.append(f"solution has {len(spans)} \\boxed answers, want exactly 1")
        elif answer is not None and not same_answer(spans[0][2], str(answer)):
            problems.append(f"solution answer {spans[0][2].strip()!r} differs from the verified {str(answer)!r}")
    return problems

"""Math answers: extract the final answer from a response and compare it with the reference.

- ``extract_boxed(text)``: content of the last non-empty ``\\boxed{...}``/``\\fbox{...}`` (or the
  ``\\boxed 5`` shorthand), braces balanced; ``None`` if there is none or the last one is unclosed
  (a truncated response), as MATH's ``last_boxed_only_string`` (Hendrycks et al. 2021).
- ``extract_answer(text, boxed_only=False)``: the boxed answer, else the last explicit final answer
  ("final answer is X", "the answer is X", "Answer: X", GSM8K ``#### X``); never "the last number".
- ``equivalent(pred, gold)``: math-verify (HuggingFace) ``parse`` + ``verify`` on LaTeX only, inside
  the guards of ``exact.py`` (exact numbers never decided by a tolerance, primes kept, unit and
  currency policy, ``\\sqrt[3]2`` and mixed numbers, positive variables). Its plain-expression
  extractor (``sympy.parse_expr``, which evals) is not used; nothing here calls ``eval``/``sympify``
  on text. Departures from math-verify: a set ``\\{1,2\\}`` never equals a tuple ``(1,2)``;
  digit groups split by ``\\,``/``{,}`` are joined; an unpaired ``$`` is a currency sign.
- ``verify_math(response, gold, integer=False, boxed_only=False)``: a verdict ``{"correct",
  "extracted", "reason"}``; ``integer=True`` (AIME) needs the answer to denote exactly ``int(gold)``.

math-verify's SIGALRM timeouts are off (they fail off the main thread and cannot stop C code).
Inputs known to explode (integer power towers, huge factorials/binomials, deep nesting) get reason
``timeout`` without being evaluated; the hard time guarantee is ``VerifierPool``.
"""

from __future__ import annotations

import logging
import math
import re
from functools import lru_cache

from skyt1.verifiers.exact import (
    explicit_kind, invalid_mixed, markers_clash, numbers_agree, opening, positive_equal, primes_differ, shorthand,
)
from skyt1.verifiers.verdict import Verdict, make

__all__ = ["equivalent", "extract_answer", "extract_boxed", "verify_math", "warm_up"]

MAX_ANSWER_CHARS = 2000  # longer answers are compared as plain strings only
_MAX_DIGITS = 100_000  # an integer power with more digits is refused
_MAX_FACTORIAL = 20_000  # sympy needs ~10 s for 10**6!
_MAX_NESTING = 16  # latex2sympy's ANTLR parser is super-linear in nesting: depth 200 takes minutes

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_MARKER_RE = re.compile(
    r"\bfinal\s+answer(?:\s*(?:is|=))?|\bthe\s+answer\s+is|\banswer\s*(?:is|:)|^[ \t]*#{4}(?!#)",
    re.IGNORECASE | re.MULTILINE,
)
_DELIMS = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_DELIM_RE = re.compile(r"(?<!\\)\$|\\[()\[\]]")
_SEP_RE = re.compile(r"(?<=\d)(?:,?\\[,!]|\\ |\{,\}|~)(?=\d{3}(?!\d))")  # 32,\!348  1\,000
_DOLLAR_RE = re.compile(r"(?<!\\)\$")
_CURRENCY_RE = re.compile(r"^[€£¥₹]\s*(?=[-+]?[\d.])|(?<=[\d.])\s*[€£¥₹]$")
# where an answer phrase ends: a full stop, or a following clause ("The answer is 42, but ...")
_CLAUSE_END_RE = re.compile(r"\.(?=\s|$)|\s+I hope\b|,?\s+(?:but|though|although|however|because|since|which)\b|;\s")
_INT_RE = re.compile(r"[+-]?\d+")
_SPACED_INT_RE = re.compile(r"-?\d{1,3}(?: \d{3})+(?:\.\d+)?")

for _name in ("math_verify.parser", "math_verify.grader"):  # we disable its timeouts on purpose
    logging.getLogger(_name).addFilter(lambda r: "Timeout is disabled" not in r.getMessage())


def _balanced(text: str, start: int) -> int | None:
    """Index just past the group opened by ``text[start] == "{"``; ``\\{``/``\\}`` are literals."""
    depth, i = 0, start
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 1
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def extract_boxed(text: str) -> str | None:
    """Content of the last non-empty ``\\boxed{...}``/``\\fbox{...}``; ``None`` if none or unclosed."""
    for m in reversed(list(_BOX_RE.finditer(text or ""))):
        i = m.end()
        while i < len(text) and text[i] in " \t":
            i += 1
        if i < len(text) and text[i] == "{":
            end = _balanced(text, i)
            if end is None:
                return None
            content = text[i + 1 : end - 1].strip()
        elif i > m.end():  # "\boxed 5" shorthand: one token
            content = re.match(r"[^\s$]*", text[i:]).group(0)
        else:
            continue
        if content:
            return content
    return None


def _strip_delims(s: str) -> str:
    """``$x$`` -> ``x`` (also ``$$``, ``\\(``, ``\\[``), unless the inside has more delimiters."""
    s = s.strip()
    for left, right in _DELIMS:
        inner = s[len(left) : -len(right)]
        if inner and s.startswith(left) and s.endswith(right) and not _DELIM_RE.search(inner):
            return inner.strip()
    return s


def _answer_tail(tail: str) -> str | None:
    line = tail.lstrip(" \t*:").lstrip().split("\n", 1)[0].strip()  # "Answer:\n42": next line
    if not line.startswith(tuple(left for left, _ in _DELIMS)):
        line = _CLAUSE_END_RE.split(line, maxsplit=1)[0].strip()
        if is_ := re.match(r".{0,100}?\sis\s+(?=\S)", line):  # "Answer: the largest $n$ is 34"
            line = line[is_.end() :]
    for left, right in _DELIMS:
        if line.startswith(left) and (end := line.find(right, len(left))) > 0:
            return _strip_delims(line[: end + len(right)]) or None
    line = _CLAUSE_END_RE.split(line, maxsplit=1)[0]
    return _strip_delims(line.strip().strip("*").strip().rstrip(".,;")) or None


def extract_answer(text: str, *, boxed_only: bool = False) -> str | None:
    """The last boxed answer; else (unless ``boxed_only``) the last explicit final-answer form."""
    boxed = extract_boxed(text)
    if boxed is not None or boxed_only or not text:
        return boxed
    for m in reversed(list(_MARKER_RE.finditer(text))):
        if (answer := _answer_tail(text[m.end() :])) and not _BOX_RE.search(answer):  # not "\boxed{12"
            return answer
    return None


def _normalize(s: str) -> str:
    s = _strip_delims(s)
    if len(_DOLLAR_RE.findall(s)) == 1:  # an unpaired "$" is a currency sign: "$1,000.99"
        s = _DOLLAR_RE.sub("", s).strip()
    s = _SEP_RE.sub("", _CURRENCY_RE.sub("", s).strip())
    return s.replace(" ", "") if _SPACED_INT_RE.fullmatch(s) else s


def _group_after(s: str, i: int) -> str:
    """The exponent/argument starting at ``s[i]``: a brace group, a digit run or one character."""
    while i < len(s) and s[i] == " ":
        i += 1
    if s[i : i + 1] == "{":
        end = _balanced(s, i)
        return s[i + 1 : end - 1] if end else s[i + 1 :]
    return re.match(r"\d+|.|", s[i:]).group(0)


def _int_value(s: str, depth: int = 0) -> float | None:
    """Value of an integer literal or integer power tower (``9^{9^9}``); ``inf`` if astronomic."""
    s = s.strip()
    while s[:1] in ("{", "(") and opening(s, len(s) - 1) == 0:
        s = s[1:-1].strip()
    if re.fullmatch(r"\d+", s):
        return float(s) if len(s) < 300 else math.inf
    m = re.match(r"(\d+)\s*\^", s)
    if m is None or depth > 8:
        return None
    exp_text = _group_after(s, m.end())
    if s[m.end() :].strip() not in (exp_text, "{" + exp_text + "}"):
        return None
    exp = _int_value(exp_text, depth + 1)
    if exp is None:
        return None
    digits = exp * math.log10(max(int(m.group(1)), 1))
    return math.inf if digits > 300 else 10.0**digits


def _too_costly(s: str) -> bool:
    """True for answers whose exact evaluation would blow up (see the module docstring)."""
    for m in re.finditer(r"(\d+)\s*\^", s):
        exp = _int_value(_group_after(s, m.end()))
        if exp is not None and exp * math.log10(max(int(m.group(1)), 1)) > _MAX_DIGITS:
            return True
    for m in re.finditer(r"(?<=[\d)}])\s*!", s):  # n!, (10^{6})!, {n}!
        j = m.start() - 1
        start = opening(s, j) if s[j] in ")}" else re.search(r"\d+$", s[: j + 1]).start()
        value = _int_value(s[start : j + 1]) if start is not None else None
        if value is not None and value > _MAX_FACTORIAL:
            return True
    for m in re.finditer(r"\\[dt]?binom\s*", s):
        top = _int_value(_group_after(s, m.end()))
        if top is not None and top > _MAX_FACTORIAL:
            return True
    depth = 0
    for c in s:
        depth += (c in "{([") - (c in "})]")
        if depth > _MAX_NESTING:
            return True
    return False


@lru_cache(maxsize=4096)
def _parse(s: str) -> tuple:
    from math_verify import LatexExtractionConfig, parse

    if _DELIM_RE.search(s) or _BOX_RE.search(s):  # math inside text: let math-verify find it
        text = s
    elif _balanced("{" + s + "}", 0) == len(s) + 2:
        text = "\\boxed{" + s + "}"
    else:
        text = "$$" + s + "$$"
    return tuple(parse(text, [LatexExtractionConfig(boxed_match_priority=0)], parsing_timeout=None))


def equivalent(pred: str, gold: str) -> bool:
    """True when ``pred`` denotes the same answer as ``gold`` (math-verify on LaTeX, strict mode)."""
    if pred is None or gold is None:
        return False
    p, g = _normalize(str(pred)), _normalize(str(gold))
    if not p or not g or p == g:
        return bool(p) and p == g
    if len(p) > MAX_ANSWER_CHARS or len(g) > MAX_ANSWER_CHARS:
        return re.sub(r"\s+", "", p) == re.sub(r"\s+", "", g)
    if _INT_RE.fullmatch(p) and _INT_RE.fullmatch(g):  # the common case, exact without parsing
        return int(p) == int(g)
    if _too_costly(p) or _too_costly(g) or {explicit_kind(p), explicit_kind(g)} == {"set", "tuple"}:
        return False
    if primes_differ(p, g) or markers_clash(_strip_delims(str(pred)), _strip_delims(str(gold))) or \
            invalid_mixed(p) or invalid_mixed(g):
        return False
    from math_verify import verify

    p, g = shorthand(p), shorthand(g)
    gold_parsed, pred_parsed = _parse(g), _parse(p)
    if not (gold_parsed and pred_parsed):
        return False
    if verify(list(gold_parsed), list(pred_parsed), timeout_seconds=None):
        return numbers_agree(gold_parsed[0], pred_parsed[0], (g, p)) is not False  # never an absolute test
    return positive_equal(gold_parsed[0], pred_parsed[0])


def _integer_value(s: str) -> int | None:
    """The integer ``s`` denotes exactly ("033", "33.0", "1,000", "\\frac{66}{2}"), else None."""
    t = re.sub(r"\\(?:text|mathrm|textbf|mbox)\{([^{}]*)\}", r"\1", _normalize(s)).strip()
    t = t[1:-1].strip() if t[:1] == "{" and _balanced(t, 0) == len(t) else t
    if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+", t):
        t = t.replace(",", "")
    if m := re.fullmatch(r"([+-]?\d+)(?:\.0*)?", t):
        return int(m.group(1))
    if len(t) > MAX_ANSWER_CHARS or _too_costly(t):
        return None
    import sympy

    value = (_parse(t) or (None,))[0]
    if isinstance(value, sympy.Integer) or (isinstance(value, sympy.Float) and value == int(value)):
        return int(value)
    return None


def _costly(s: str) -> bool:
    return len(s) <= MAX_ANSWER_CHARS and _too_costly(_normalize(s))


# Generic answer shapes, compared pairwise: they load sympy's lazy modules, fill ANTLR's DFA cache.
_WARM_UP = re.split(
    r"[|\n]",
    r"""\left( 3, \frac{\pi}{2} \right)|(3, \frac{\pi}{3})|x^2 + 2x + 1|(x+1)^2|y = 2x + 3|2x+3
\left[ \frac{\pi^2}{8}, \frac{3 \pi}{4} \right)|(-\infty, 0] \cup (1, \infty)|\{1, 2\}|1, 2|5\%|0.05
\begin{pmatrix} 1 \\ 2 \end{pmatrix}|\begin{pmatrix} 1/2 & 0 \\ 2 & -1 \end{pmatrix}|\text{Evelyn}|\text{(B)}
\sqrt{2}/2|0.7071|3 \sqrt{13} + 1|\dfrac{1 \pm \sqrt{5}}{2}|x \in [-2, 7]|-2 \le x \le 7|1010_2|52_8
6 - 5i|-\frac{24}{25} + \frac{7}{25} i|90^\circ|\$18.90|10 \text{ cm}^2|12 \pi|\cot x|\sin^2 \theta
f(x) = x^{-1}|a_n = 2n + 1|0.0000672|1.25|\frac{1}{\sqrt{3}}|2 \sqrt[3]{4}|\log_2 5|e^{x}|p - q|\binom{10}{3}
""".strip(),
)


def warm_up() -> None:
    """Load math-verify and the parts of sympy it imports lazily, so that first calls are fast."""
    for pred, gold in zip(_WARM_UP[::2], _WARM_UP[1::2]):
        equivalent(pred, gold)


def verify_math(response: str, gold: str, *, integer: bool = False, boxed_only: bool = False) -> Verdict:
    """Extract the final answer from ``response`` and compare it with ``gold``; returns a verdict.

    ``integer=True`` (AIME): correct only if the answer denotes exactly ``int(gold)``.
    """
    extracted = extract_answer(response or "", boxed_only=boxed_only)
    if extracted is None:
        return make(False, None, "no_answer")
    target = _integer_value(str(gold)) if integer else None
    if integer and target is None:
        raise ValueError(f"integer=True needs an integer gold answer, got {gold!r}")
    if _costly(extracted) and (integer or _normalize(extracted) != _normalize(str(gold))):
        return make(False, extracted, "timeout")
    ok = _integer_value(extracted) == target if integer else equivalent(extracted, gold)
    return make(ok, extracted, "correct" if ok else "wrong_answer")

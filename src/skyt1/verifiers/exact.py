"""Guards that keep ``math.equivalent`` from accepting two different answers (no false positives).

math-verify (0.9) decides numbers with *absolute* tests: ``round(6)`` when a float is involved
and ``(a - b).evalf(chop=True) == 0`` otherwise, so ``1/20!`` equals ``1/21!`` and ``1e-8`` equals
``2e-8``; its LaTeX parser drops primes (``x'`` is ``x``). The rules here, applied around it:

- ``numbers_agree(a, b, texts)``: for two parsed *numbers*: both exact (no float literal) ->
  equal only when their difference is exactly zero (rationals compared as rationals, other exact
  values at 60 digits with a relative residue under 1e-40); both plain decimal literals -> equal
  only as decimals (``0.1`` is not ``0.10000001``); a decimal against an exact value -> relative
  difference within 1e-6, or within half a unit of the decimal's last written digit (``0.333333``
  is ``1/3``, ``0.00000001`` is not ``2 \\cdot 10^{-8}``). A numeric test never decides between
  two exact values. Tuples, intervals and matrices are checked entry by entry. ``None`` when not
  both numbers, or an infinity is involved (the caller keeps math-verify's verdict).
- ``primes_differ(p, g)``: the primed symbols (``x'``, ``f''``, ``x^\\prime``) differ.
- ``marker(s)``: the unit or currency an answer carries: ``"degree"`` (``^\\circ``, ``°``,
  ``\\degree``, "degrees"), ``"currency"`` (``$``, ``\\$``, ``€``, ``£``, ``¥``, ``₹``, "dollars"),
  ``"unit:<name>"`` (a trailing ``\\text{cm}``), ``"percent"`` or ``None``. Policy: a marker on one
  side only is ignored (``30^\\circ`` equals ``30``, ``\\$30`` equals ``30``, as MATH's graders
  strip units); two answers that carry *different* markers are never equal (``30^\\circ`` is not
  ``\\$30``, ``5\\text{ cm}`` is not ``5\\text{ m}``). A percent is compared as math-verify does.
- ``shorthand(s)``: ``\\sqrt[3]2`` -> ``\\sqrt[3]{2}`` (TeX's unbraced one-token argument), ``y^\\prime``
  -> ``y'`` and a
  mixed number in any spelling (``2~\\frac12`` -> ``2\\frac12``, which math-verify reads as 5/2;
  ``2 1/2``, ``1 000 4/9``, ``4 4/9%`` -> an improper fraction). As math-verify's own tests require,
  a plain mixed number whose fraction is not proper (``11 6/6``, ``4 4/0``) equals nothing.
- ``positive_equal(a, b)``: equal when every variable is taken positive (``\\sqrt{1/x}`` and
  ``1/\\sqrt{x}``), tried only when math-verify said no, both have the same variables and neither
  has an absolute value (so ``x`` never equals ``|x|``). Contest answers are stated for the
  problem's domain, which is positive in almost every such case; this is the one assumption made.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal, InvalidOperation

__all__ = ["explicit_kind", "opening", "numbers_agree", "primes_differ", "marker", "markers_clash", "shorthand",
           "invalid_mixed", "positive_equal"]

_MARKED_CHARS = 40  # markers are read on answers, not on prose that mentions prices and angles
_PRIME_RE = re.compile(r"(?<![A-Za-z])([A-Za-z])\s*('+|\^\s*\{?\s*(?:\\prime\s*)+\}?|’+)(?![A-Za-z])")
_LATEX_PRIME_RE = re.compile(r"\^\s*\{?\s*(?:\\prime\s*)+\}?")
_DECIMAL_RE = re.compile(r"^[+-]?(?:\d+\.\d*|\.\d+)$")
_DEC_IN_RE = re.compile(r"\d*\.(\d+)")
_SQRT_RE = re.compile(r"\\sqrt\s*\[([^\[\]{}]*)\]\s*([0-9A-Za-z])")
_MIXED_RE = re.compile(r"^([+-]?\d+)(?:\s|~|\\[ ,;:!]|\\quad)+(\\[dt]?frac)")
_MIXED_PLAIN_RE = re.compile(r"^([+-]?)(\d{1,3}(?: \d{3})+|\d+)\s+(\d+)\s*/\s*(\d+)\s*(%|\\%|percent(?:age)?|pct)?$")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree|\bdegrees?\b", re.IGNORECASE)
_CURRENCY_RE = re.compile(r"\\\$|[€£¥₹]|\b(?:dollars?|cents?|euros?|pounds?)\b",
                          re.IGNORECASE)
_UNIT_RE = re.compile(r"\\(?:text|mbox|mathrm|textrm|operatorname)\s*\{\s*([A-Za-z]+)\s*\}(?:\^\s*\{?\d\}?)?\s*$")


def opening(s: str, j: int) -> int | None:
    """Index of the bracket opening the group that ``s[j]`` (``)`` or ``}``) closes."""
    open_, depth = {")": "(", "}": "{"}.get(s[j]), 0
    for i in range(j, -1, -1):
        depth += (s[i] == s[j]) - (s[i] == open_)
        if depth == 0:
            return i
    return None


def explicit_kind(s: str) -> str | None:
    """``"set"`` for ``\\{a, b\\}``, ``"tuple"`` for ``(a, b)``, else ``None``."""
    t = re.sub(r"\\(?:left|right|[bB]ig[lr]?)(?![A-Za-z])", "", s).strip()
    if t.startswith("\\{") and t.endswith("\\}"):
        return "set"
    if t.startswith("(") and t.endswith(")") and "," in t and opening(t, len(t) - 1) == 0:
        return "tuple"  # (the last check rejects "(1,2) \cup (3,4)")
    return None


def primes_differ(p: str, g: str) -> bool:
    """True when the two answers decorate different symbols with primes."""
    if max(len(p), len(g)) > 4 * _MARKED_CHARS:
        return False  # prose: its apostrophes are not primes

    def primes(s: str) -> Counter:
        return Counter((m.group(1), len(re.findall(r"'|\\prime|’", m.group(2)))) for m in _PRIME_RE.finditer(s))
    return primes(p) != primes(g)


def marker(s: str) -> str | None:
    """The unit or currency ``s`` carries (see the module docstring), or None; prose has none."""
    if len(s) > _MARKED_CHARS:
        return None
    if _DEGREE_RE.search(s):
        return "degree"
    if _CURRENCY_RE.search(s) or (len(re.findall(r"(?<!\\)\$", s)) == 1 and re.search(r"(?<!\\)\$\s*[-+]?\d", s)):
        return "currency"
    if "%" in s or re.search(r"\bpercent", s, re.IGNORECASE):
        return "percent"
    if m := _UNIT_RE.search(s):
        return "unit:" + m.group(1).lower().rstrip("s")
    return None


def markers_clash(p: str, g: str) -> bool:
    """True when both answers carry a marker and the markers differ (units: neither name a prefix)."""
    mp, mg = marker(p), marker(g)
    if not mp or not mg or mp == mg:
        return False
    if mp.startswith("unit:") and mg.startswith("unit:"):
        a, b = mp[5:], mg[5:]
        return not (a.startswith(b) or b.startswith(a))
    return True


def shorthand(s: str) -> str:
    """Rewrite TeX shorthand math-verify misreads: unbraced root arguments, mixed numbers."""
    s = _SQRT_RE.sub(r"\\sqrt[\1]{\2}", s)
    s = _LATEX_PRIME_RE.sub(lambda m: "'" * m.group(0).count("prime"), s)  # y^\prime -> y' (parsed alike)
    if (m := _MIXED_PLAIN_RE.match(s)) and not invalid_mixed(s):
        whole, num, den = int(m.group(2).replace(" ", "")), int(m.group(3)), int(m.group(4))
        return f"{m.group(1)}\\frac{{{whole * den + num}}}{{{den}}}" + ("\\%" if m.group(5) else "")
    return _MIXED_RE.sub(r"\1\2", s)


def invalid_mixed(s: str) -> bool:
    """``11 6/6``, ``4 4/0``: a mixed number whose fraction is not proper denotes nothing (math-verify's rule)."""
    m = _MIXED_PLAIN_RE.match(s)
    return m is not None and not 0 <= int(m.group(3)) < int(m.group(4))


def _decimal_digits(text: str) -> int | None:
    found = _DEC_IN_RE.findall(text)
    return len(found[0]) if len(found) == 1 else None


def numbers_agree(a, b, texts: tuple[str, str]) -> bool | None:
    """Exact/relative agreement of two parsed numbers (see the module docstring); None if n/a."""
    import sympy

    if (isinstance(a, sympy.Tuple) and isinstance(b, sympy.Tuple) and len(a) == len(b)) or (
            isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase) and a.shape == b.shape):
        pairs = zip(a, b) if isinstance(a, sympy.Tuple) else zip(a.flat(), b.flat())
        return False if any(numbers_agree(x, y, ("", "")) is False for x, y in pairs) else None  # element-wise
    if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):  # "(a, b)" parses as an open interval
        pairs = ((a.start, b.start), (a.end, b.end))
        return False if any(numbers_agree(x, y, ("", "")) is False for x, y in pairs) else None
    if not all(isinstance(x, sympy.Expr) and x.is_number for x in (a, b)):
        return None
    if any("%" in t for t in texts):
        return None  # math-verify's percent convention (9% == 9) is kept as is
    try:
        if all(_DECIMAL_RE.match(t.strip()) for t in texts):
            return Decimal(texts[0].strip()) == Decimal(texts[1].strip())
        a, b = a.doit(), b.doit()
        if a.is_finite is False or b.is_finite is False:
            return None  # infinities: math-verify's own comparison stands
        floats = bool(a.atoms(sympy.Float)) or bool(b.atoms(sympy.Float))
        if not floats and isinstance(a, sympy.Rational) and isinstance(b, sympy.Rational):
            return a == b
        na, nb = sympy.N(a, 60), sympy.N(b, 60)
        if not (na.is_number and nb.is_number) or na.has(sympy.zoo, sympy.nan):
            return None
        diff, scale = abs(complex(na - nb)), max(abs(complex(na)), abs(complex(nb)))
        if not floats:
            return diff <= 1e-40 * scale or diff == 0
        digits = [d for t in texts if (d := _decimal_digits(t)) is not None]
        half_unit = 0.5 * 10.0 ** -max(digits) if digits else 0.0
        return diff <= max(1e-6 * scale, half_unit)
    except (TypeError, ValueError, ArithmeticError, InvalidOperation, AttributeError):
        return None


def positive_equal(a, b) -> bool:
    """``a == b`` when every free symbol is positive (see the module docstring)."""
    import sympy

    try:
        if not (isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)):
            return False
        syms = a.free_symbols
        if not syms or syms != b.free_symbols or a.has(sympy.Abs) or b.has(sympy.Abs):
            return False
        if not any(p.exp.is_Integer is False for e in (a, b) for p in e.atoms(sympy.Pow)) and not (
                a.has(sympy.log) or b.has(sympy.log)):
            return False  # positivity only matters for radicals, fractional powers and logarithms
        diff, ordered = a - b, sorted(syms, key=str)
        for point in (0.7, 1.3):  # a cheap numeric refusal before the costly simplify
            values = {s: sympy.Float(point + 0.11 * i) for i, s in enumerate(ordered)}
            if abs(complex(diff.xreplace(values).evalf(30))) > 1e-12:
                return False
        pos = {s: sympy.Symbol(s.name, positive=True) for s in syms}
        return sympy.simplify(a.xreplace(pos) - b.xreplace(pos)) == 0
    except Exception:  # noqa: BLE001 - sympy raises many types; undecided means not equal
        return False

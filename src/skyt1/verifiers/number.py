"""Short numeric answers (the ``number`` verifier: arithmetic, GSM8K-style tasks).

``extract_number(text)``: the explicit final answer (``math.extract_answer``: boxed, "the answer
is X", "Answer: X", ``#### X``); else the last number the response *asserts* as a result - the
number right after "is", "=", "equals", "gives", "makes" or "answer"; else, only when nothing is
asserted, the last number in the response (lm-eval's GSM8K "flexible-extract"). Why asserted
first: "4 - 2 is 4, which is the difference between 4 and 2." states 4 and then names the
operands; the last number (2) would grade that wrong answer correct.
"""

from __future__ import annotations

import re

from skyt1.verifiers.verdict import Verdict, make

__all__ = ["extract_number", "last_number", "asserted_number", "verify_number"]

_NUM = r"-?\d[\d,]*(?:\.\d+)?"
_NUMBER = re.compile(_NUM)
# a number right after "is"/"="/..., unless an operator follows it ("is 7 - 2" states no result yet)
_ASSERTED = re.compile(r"(?:\b(?:is|equals|gives|makes|answer)\b|=)\s*:?\s*\$?\s*(" + _NUM + r")"
                       r"(?![\d.]*\s*[-+*/×÷^])", re.IGNORECASE)


def _clean(s: str) -> str:
    return s.replace(",", "").rstrip(".")


def last_number(text: str) -> str | None:
    found = _NUMBER.findall(text)
    return _clean(found[-1]) if found else None


def asserted_number(text: str) -> str | None:
    """The last number stated as a result ("... is 4", "= 4"), or None."""
    found = _ASSERTED.findall(text)
    return _clean(found[-1]) if found else None


def extract_number(text: str) -> str | None:
    from skyt1.verifiers.math import extract_answer

    return extract_answer(text) or asserted_number(text) or last_number(text)


def verify_number(response: str, gold: str) -> Verdict:
    from skyt1.verifiers.math import equivalent

    extracted = extract_number(response or "")
    if not extracted:
        return make(False, None, "no_answer")
    ok = equivalent(extracted, gold)
    return make(ok, extracted, "correct" if ok else "wrong_answer")

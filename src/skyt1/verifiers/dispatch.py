"""One entry point for every verifier kind, picklable for the worker pool.

The kinds live in :mod:`skyt1.verifiers.registry` (``KINDS`` derives from it): ``math`` (boxed or
explicit final answer, math-verify equivalence), ``math_int`` (AIME integer-exact), ``number``
(short-answer tasks: an explicit answer, else the asserted result, else the last number),
``choice`` (a letter), ``code`` (sandboxed tests). ``vote_keys`` groups one problem's answers
for maj@n inside the same time-limited workers (see :mod:`skyt1.verifiers.vote`).
"""

from __future__ import annotations

from skyt1.verifiers.number import last_number
from skyt1.verifiers.registry import KINDS, get
from skyt1.verifiers.verdict import Verdict

__all__ = ["KINDS", "verify", "gold_of", "last_number", "verify_math_int"]


def gold_of(kind: str, row: dict) -> dict:
    """The fields a verifier needs from a problem (the rest never leaves the parent)."""
    spec = get(kind)
    gold = {f: row[f] for f in spec.gold}
    if "answer" in gold and kind != "choice":
        gold["answer"] = str(gold["answer"])
    gold.update({f: row[f] for f in spec.optional if row.get(f) is not None})
    if kind == "choice":
        gold.setdefault("letters", "ABCD")
    return gold


def verify_math_int(response: str, gold: str) -> Verdict:
    from skyt1.verifiers.math import verify_math

    return verify_math(response, gold, integer=True)


def verify(kind: str, response: str, gold: dict, options: dict | None = None) -> Verdict:
    """The verdict of ``kind``'s verifier; ``options``: ``code_timeout``, ``unsafe``, ``slot``,
    and ``judge`` (true: tag verdicts the rules cannot decide, see :mod:`~skyt1.verifiers.llm_judge`)."""
    options = options or {}
    spec = get(kind)
    fn = spec.function()
    if kind == "code":
        verdict = fn(response, gold["tests"], timeout=options.get("code_timeout", 6.0),
                     unsafe=options.get("unsafe", False), slot=options.get("slot", 0),
                     statement=gold.get("statement") or gold.get("question"))
    elif kind == "choice":
        verdict = fn(response, gold["answer"], gold.get("letters", "ABCD"))
    else:
        verdict = fn(response, gold["answer"])
    if options.get("judge"):  # the LLM judge is on: tag what the rules cannot decide (llm_judge.py)
        from skyt1.verifiers.llm_judge import tag

        verdict = tag(kind, verdict, gold)
    return verdict

"""The verdict: one type, built in one place (``make``), used by every verifier.

A verdict serialises to the records contract ``{"correct", "extracted", "reason"}``; code
verdicts add ``passed``, ``total``, ``detail``; a pool failure adds ``error``; with the LLM judge
on, ``judge`` says who decided (``"rule"`` or ``"llm"``). ``reason`` is one of :data:`REASONS`:

- ``correct``, ``wrong_answer``, ``no_answer`` (nothing explicit to grade);
- ``timeout`` (the verifier or the program ran out of time), ``truncated`` (the response was cut
  at ``max_tokens``), ``error`` (the verifier raised, or its worker died);
- code only: ``runtime_error``, ``memory``, ``compile_error``, ``sandbox_error``, ``output_limit``.
"""

from __future__ import annotations

from typing import Literal, TypedDict, get_args

__all__ = ["Reason", "REASONS", "Verdict", "make"]

Reason = Literal["correct", "wrong_answer", "no_answer", "timeout", "truncated", "error", "runtime_error",
                 "memory", "compile_error", "sandbox_error", "output_limit"]
REASONS: tuple[str, ...] = get_args(Reason)


class Verdict(TypedDict, total=False):
    """A verdict as it travels between processes and into records (a plain dict at run time)."""

    correct: bool
    extracted: str | None
    reason: Reason
    judge: Literal["rule", "llm"]
    passed: int
    total: int
    detail: str
    error: str


def make(correct: bool, extracted: str | None, reason: str, **extra) -> Verdict:
    """The one constructor: checks ``reason`` is known and ``correct`` agrees with it."""
    if reason not in REASONS:
        raise ValueError(f"unknown verdict reason {reason!r}; known: {', '.join(REASONS)}")
    if bool(correct) != (reason == "correct"):
        raise ValueError(f"verdict correct={correct!r} contradicts reason {reason!r}")
    return Verdict(correct=bool(correct), extracted=extracted, reason=reason, **extra)

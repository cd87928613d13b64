"""The verifier registry: one entry per kind; ``KINDS``, the allowed config values, the CLI help,
the fields a row needs and the majority-vote key all derive from it.

Adding a verifier = one function ``(response, gold_value, **options) -> Verdict`` and one entry
here. ``verify`` is a ``"module:function"`` path, imported lazily in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module

__all__ = ["VerifierSpec", "VERIFIERS", "KINDS", "get", "kinds_help"]


@dataclass(frozen=True)
class VerifierSpec:
    """One verifier kind. ``gold`` names the fields the verifier needs from a problem (besides
    ``response``); ``vote`` is how answers are grouped for maj@n (``"math"``: mathematical
    equivalence, ``"integer"``: the integer denoted, ``"exact"``: the extracted string);
    ``warm`` says the workers pre-load math-verify; ``options`` names the ``verify`` options the
    kind takes."""

    name: str
    doc: str
    verify: str
    gold: tuple[str, ...] = ("answer",)
    optional: tuple[str, ...] = ()
    vote: str = "math"
    warm: bool = True
    options: tuple[str, ...] = ()

    def function(self):
        module, name = self.verify.split(":")
        return getattr(import_module(module), name)


VERIFIERS: dict[str, VerifierSpec] = {
    spec.name: spec
    for spec in (
        VerifierSpec("math", "boxed or explicit final answer, math-verify equivalence with exactness guards",
                     "skyt1.verifiers.math:verify_math"),
        VerifierSpec("math_int", "AIME: the answer must denote exactly the integer gold",
                     "skyt1.verifiers.dispatch:verify_math_int", vote="integer"),
        VerifierSpec("number", "short numeric answers: explicit answer, else asserted result, else last number",
                     "skyt1.verifiers.number:verify_number"),
        VerifierSpec("choice", "multiple choice: the letter of an explicit final answer",
                     "skyt1.verifiers.choice:verify_choice", optional=("letters",), vote="exact", warm=False),
        VerifierSpec("code", "Python program run against the problem's tests in the sandbox",
                     "skyt1.verifiers.code:judge_code", gold=("tests",), optional=("statement", "question"),
                     vote="exact", warm=False, options=("timeout", "unsafe", "slot")),
    )
}
KINDS: tuple[str, ...] = tuple(VERIFIERS)


def get(kind: str) -> VerifierSpec:
    try:
        return VERIFIERS[kind]
    except KeyError:
        raise ValueError(f"unknown verifier kind {kind!r}; known: {', '.join(KINDS)}") from None


def kinds_help() -> str:
    """``math | math_int | ...`` for CLI help text."""
    return " | ".join(KINDS)

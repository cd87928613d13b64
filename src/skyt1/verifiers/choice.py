"""Multiple-choice answers (GPQA-Diamond and the like): extract the chosen letter, shuffle options.

Contract:

- ``extract_choice(text, letters="ABCD")``: the letter of the last *explicit* final answer:
  ``\\boxed{C}`` / ``\\boxed{\\text{(C)}}``, "Answer: C", "the answer is (C)", "I choose C", "the
  correct option is C", or a last line that is just ``(C)`` / ``C``. Stray letters elsewhere in
  the text are never guessed at; ``None`` when there is no explicit answer.

- ``shuffle_choices(question_id, choices, gold_index)``: a deterministic shuffle seeded by the
  question id through SHA-256 (not the global RNG, not Python's per-process salted ``hash``), so
  every process and machine shows the same order; returns (shuffled choices, gold letter). GPQA's
  own evaluation shuffles the four options per question (Rein et al. 2023, "GPQA").
- ``verify_choice(response, gold, letters="ABCD")`` returns a verdict
  ``{"correct", "extracted", "reason"}``.

Conventions (each has cases in tests/cases/choice_cases.jsonl):

- *Case*: the phrases are case-insensitive ("ANSWER: C"), the letter is not (``c`` is not ``C``:
  a lower-case letter is usually a word, "answer: a quick check ...").
- *Language*: English phrases only; a response in another language needs a boxed letter or a
  last line that is the letter alone.
- *Decorations* around the letter are read through: brackets ``(C)`` / ``[C]``, quotes
  ``"C"`` / ``'C'`` / ``“C”``, bold ``**C**``, inline math ``\\(C\\)`` / ``$C$``, and certainty
  words ("the answer is for sure D", "definitely", "clearly", "option C").
- *Echoed option*: a response that is a single line ``B) 12 apples`` / ``(B) 12`` answers B.
- *Remarks after the answer* may name other letters: only explicit answer phrases count, and a
  phrase whose letter is followed by a condition ("the answer is A only if ...", "... D under
  the old convention", "would", "were") is not an answer.
- *Hedges are refused*: "probably B", "it could be A or B", "I think A, but maybe B" give
  ``None`` - a guess is not graded as an answer.
"""

from __future__ import annotations

import hashlib
import re

from skyt1.verifiers.math import _BOX_RE, _balanced
from skyt1.verifiers.verdict import Verdict, make

__all__ = ["extract_choice", "shuffle_choices", "verify_choice"]

# "the answer is for sure D": certainty words between the phrase and the letter (never hedges)
_EMPHATIC = (r"(?:(?:definitely|clearly|certainly|surely|undoubtedly|obviously|indeed|absolutely|for\s+sure|"
             r"without\s+(?:a\s+)?doubt|option|choice|letter)\s*,?\s*)*")
_OPEN = r"[\"“'‘]?\s*[(\[]?\s*"  # 'Answer: "C"', 'the answer is (C)'
_CLOSE = r"\s*[)\]]?[\"”'’]?(?!\s+(?:only\s+)?(?:if|when|under|would|were)\b)"  # not "A only if ..."
_WRAPPER_RE = re.compile(r"\\(?:text|textbf|mathrm|mathbf|mbox|textrm|bf)\s*\{([^{}]*)\}")


def _letter_of(content: str, letters: str) -> str | None:
    """``"C"``, ``"(C)"``, ``"\\text{(C) 12}"``, ``"C. 12"`` -> ``"C"``; anything else -> None."""
    for _ in range(3):
        content = _WRAPPER_RE.sub(r"\1", content)
    content = content.strip().strip("*$ ").strip()
    m = re.fullmatch(r"[(\[]?\s*([A-Za-z])\s*[)\]]?(?:[.:)]?\s.*|[.:]?)", content, re.DOTALL)
    if m and m.group(1) in letters:
        return m.group(1)
    return None


def _candidates(text: str, letters: str):
    """(position, letter) for every explicit answer form found in ``text``."""
    for m in _BOX_RE.finditer(text):
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            end = _balanced(text, i)
            if end is not None and (letter := _letter_of(text[i + 1 : end - 1], letters)):
                yield m.start(), letter
    cls = "[" + re.escape(letters) + "]"
    phrase = re.compile(
        r"\banswer(?:\s+is\b|\s*(?:\*\*)?\s*[:=])\s*(?:\*\*)?\s*:?\s*(?:\*\*)?\s*" + _EMPHATIC +
        r"(?:\\\(|\$)?\s*" + _OPEN + r"(" + cls + r")" + _CLOSE + r"(?![A-Za-z0-9])"
        r"|\b(?:I\s+(?:choose|select|pick)|correct\s+(?:option|choice|answer)(?:\s+is\b|\s*:)?)\s*"
        r"(?:\*\*)?\s*" + _EMPHATIC + _OPEN + r"(" + cls + r")" + _CLOSE + r"(?![A-Za-z0-9])",
        re.IGNORECASE,
    )
    for m in phrase.finditer(text):
        letter = m.group(1) or m.group(2)
        if letter in letters:  # the option letter itself is case-sensitive
            yield m.start(), letter
    lines = [line for line in text.rstrip().splitlines() if line.strip()]
    if len(lines) == 1 and (m := re.match(r"\s*(?:\*\*)?\(?(" + cls + r")[).:]\s+\S", lines[0])):
        yield 0, m.group(1)  # the response is only the echoed option line "B) 12 apples"
    if lines:
        last = lines[-1].strip().strip("*").strip().rstrip(".").strip()
        if m := re.fullmatch(r"[(\[]?(" + cls + r")[)\]]?", last):
            yield len(text) - len(lines[-1]), m.group(1)


def extract_choice(text: str, letters: str = "ABCD") -> str | None:
    """The letter of the last explicit final answer in ``text``, or ``None``."""
    if not text:
        return None
    best = max(_candidates(text, letters), default=None, key=lambda c: c[0])
    return best[1] if best else None


def _unit(question_id: str, i: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{question_id}\x00{i}".encode()).digest(), "big")


def shuffle_choices(question_id: str, choices: list[str], gold_index: int) -> tuple[list[str], str]:
    """Fisher-Yates shuffle driven by SHA-256(question_id, step); returns (choices, gold letter)."""
    n = len(choices)
    if not 0 <= gold_index < n:
        raise ValueError(f"gold_index {gold_index} out of range for {n} choices")
    if n > 26:
        raise ValueError("at most 26 choices (letters A-Z)")
    order = list(range(n))
    for i in range(n - 1, 0, -1):
        j = _unit(str(question_id), i) % (i + 1)
        order[i], order[j] = order[j], order[i]
    shuffled = [choices[k] for k in order]
    return shuffled, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[order.index(gold_index)]


def verify_choice(response: str, gold: str, letters: str = "ABCD") -> Verdict:
    """Verdict for a multiple-choice response; ``gold`` is a letter (``"C"`` or ``"(C)"``)."""
    target = _letter_of(str(gold), letters)
    if target is None:
        raise ValueError(f"gold {gold!r} is not one of the letters {letters!r}")
    extracted = extract_choice(response or "", letters)
    if extracted is None:
        return make(False, None, "no_answer")
    ok = extracted == target
    return make(ok, extracted, "correct" if ok else "wrong_answer")

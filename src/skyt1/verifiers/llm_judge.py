"""An optional LLM judge: a second opinion asked only where the rules cannot decide.

With ``score.judge`` set (``skyt1.config.JudgeConfig``; off by default), every verdict records which judge
decided it (``judge``: ``"rule"`` or ``"llm"``) and the summary counts both (``judges``).

- *Undecidable* (``undecidable``): a ``math``/``number`` verdict ``wrong_answer`` whose extracted
  answer or gold math-verify cannot parse as LaTeX (no parse, a plain-text expression such as
  ``sqrt(2)/2``), or that is a text answer (``\\text{...}``, words). Verdicts the rules decided
  (``correct``, a parsed ``wrong_answer``, ``no_answer``, ``timeout``, ``truncated``, integer
  ``math_int``, ``choice`` and ``code``) are never sent. Workers tag the undecidable ones
  ``judge: "pending"`` (:func:`tag`, inside the time limit); the parent then asks the model for all
  of them at once through any skyt1 backend (:func:`resolve`), as NeMo-Skills' judge step does.
- The prompt shows the problem, the reference and the candidate *answer* (never the whole
  response); the model's last non-empty line must be exactly ``VERDICT: CORRECT`` or
  ``VERDICT: INCORRECT``. Anything else, a failed request, a truncated reply, or an answer that
  itself contains the word "verdict" (an injection attempt) leaves the rule's verdict, with
  ``judge: "rule"``. Only ``wrong_answer`` can turn into ``correct`` or stay: the judge never
  overrides a rule's decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from typing import TYPE_CHECKING

from skyt1.verifiers.verdict import Verdict, make

if TYPE_CHECKING:
    from skyt1.config import JudgeConfig

__all__ = ["DEFAULT_PROMPT", "undecidable", "tag", "resolve", "judge_counts"]

DEFAULT_PROMPT = """You are grading the final answer to a math problem against the reference answer.
Decide whether the candidate answer is mathematically equivalent to the reference (same value or set
of values; notation, formatting and units written or omitted do not matter).

Problem:
{question}

Reference answer: {gold}
Candidate answer: {answer}

Reply with one short reason, then a last line that is exactly VERDICT: CORRECT or VERDICT: INCORRECT."""
_VERDICT_RE = re.compile(r"VERDICT:\s*(CORRECT|INCORRECT)")
_TEXT_RE = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{[^{}]*[A-Za-z]{2}|[A-Za-z]{4,}")


def undecidable(kind: str, verdict: dict, gold: dict) -> bool:
    """True when the rule verdict is a ``wrong_answer`` the rules could not really compare."""
    if kind not in ("math", "number") or verdict.get("reason") != "wrong_answer" or not verdict.get("extracted"):
        return False
    from skyt1.verifiers.math import MAX_ANSWER_CHARS, _normalize, _parse

    answer, ref = str(verdict["extracted"]), str(gold.get("answer", ""))
    if max(len(answer), len(ref)) > MAX_ANSWER_CHARS:
        return False
    if _TEXT_RE.search(answer) or _TEXT_RE.search(ref):
        return True
    return not _parse(_normalize(answer)) or not _parse(_normalize(ref))


def tag(kind: str, verdict: Verdict, gold: dict) -> Verdict:
    """In the worker: ``judge`` is ``"pending"`` for an undecidable verdict, else ``"rule"``."""
    return Verdict(verdict, judge="pending" if undecidable(kind, verdict, gold) else "rule")


def _decision(text: str) -> bool | None:
    lines = [ln.strip().strip("*").strip() for ln in (text or "").splitlines() if ln.strip()]
    m = _VERDICT_RE.fullmatch(lines[-1]) if lines else None
    return None if m is None else m.group(1) == "CORRECT"


def _ask(cfg: JudgeConfig, pending: list[tuple[int, dict, dict]], backend) -> dict[int, bool]:
    from skyt1.backends.base import Request, SamplingParams

    requests = []
    for pos, row, verdict in pending:
        answer = str(verdict["extracted"])
        if "verdict" in answer.lower():
            continue  # the answer tries to speak for the judge
        question = row.get("question") or row.get("prompt") or "(not given)"
        text = (cfg.prompt or DEFAULT_PROMPT).format(question=question, gold=row.get("answer"), answer=answer)
        requests.append(Request(key=(pos,), messages=[{"role": "user", "content": text}]))
    params = SamplingParams(temperature=0.0, max_tokens=cfg.max_tokens)
    out = {}
    for req, completion in backend.generate(requests, params):
        if completion.finish_reason == "stop" and (ok := _decision(completion.text)) is not None:
            out[req.key[0]] = ok
    return out


def resolve(stream: Iterable[tuple[int, dict]], rows: list[dict], cfg: JudgeConfig,
            backend=None) -> Iterator[tuple[int, dict]]:
    """Pass decided verdicts through; ask the judge model about the pending ones, then yield them.
    ``backend``: the judge's backend, kept open by the caller; None: one made here and closed."""
    pending = []
    for pos, verdict in stream:
        if verdict.get("judge") == "pending":
            pending.append((pos, rows[pos], verdict))
        else:
            yield pos, verdict if "judge" in verdict else Verdict(verdict, judge="rule")
    if not pending:
        return
    if backend is not None:
        decided = _ask(cfg, pending, backend)
    else:
        from skyt1.backends import make_backend

        with make_backend(cfg.model) as owned:
            decided = _ask(cfg, pending, owned)
    for pos, _, verdict in pending:
        if pos in decided:
            ok = decided[pos]
            yield pos, make(ok, verdict["extracted"], "correct" if ok else "wrong_answer", judge="llm")
        else:
            yield pos, Verdict(verdict, judge="rule")


def judge_counts(records: Iterable[dict]) -> dict[str, int] | None:
    """``{"rule": n, "llm": m}`` over records that carry ``judge``; None when none does (judge off)."""
    counts: dict[str, int] = {}
    for r in records:
        if "judge" in r:
            counts[r["judge"]] = counts.get(r["judge"], 0) + 1
    return {"rule": counts.get("rule", 0), "llm": counts.get("llm", 0)} if counts else None

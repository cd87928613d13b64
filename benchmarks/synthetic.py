"""A seeded synthetic teacher output shaped like Sky-T1's QwQ traces, for the scale benchmarks.

``synthetic_rows(n_rows, seed=0)`` yields ``n_rows`` generate-stage records (the records contract:
``problem_id``, ``index``, ``task``, ``domain``, ``verifier``, ``question``, ``answer``, ``meta``,
``model``, ``prompt``, ``response``, ``finish_reason``, ``usage``, ``seconds``), ``samples`` (4) per
problem, rows of one problem contiguous. ``write_synthetic(path, n_rows, seed)`` writes them as
JSONL and returns the counts of what was planted. Same ``(n_rows, seed)``, same bytes.

- Problems: MATH train's 7,498 questions (bundled) in order; past them, the same questions with
  every number redrawn (different problems under the same-numbers guard of ``curation.dedup``).
- Traces: 2k-22k characters, median 8k (log-normal, sigma 0.55, clipped), paragraphs of
  reasoning with inline LaTeX drawn from a seeded bank; the last paragraph states the answer.
- Outcomes per sample: 68% ``\\boxed{gold}``; 7% the gold re-spelled (``\\dfrac``, spaces, ``$``);
  18% a wrong answer (another problem's, or the gold with one digit changed); 3% no answer; 2%
  cut at max_tokens (``finish_reason="length"``, no answer); 2% ``\\boxed{gold}`` in an
  otherwise different ending.
- Planted, each row saying what it is under ``planted`` (``None`` for ordinary rows):
  ``{"kind": "duplicate_problem", "of": pid}`` (1% of problems: an earlier question verbatim),
  ``near_duplicate_problem`` (1%: an earlier question with one small edit, same numbers),
  ``benchmark_copy`` (0.5%: a MATH-500 question, ``"of"`` its id, verbatim or re-spaced),
  ``duplicate_trace`` (1% of samples: the previous sample's response verbatim, ``"of"``
  ``[pid, index]``) and ``near_copy_trace`` (1%: the previous sample's response with 2% of its
  words changed).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

__all__ = ["synthetic_rows", "write_synthetic", "trace_length"]

SAMPLES = 4
RATES = {"duplicate_problem": 0.01, "near_duplicate_problem": 0.01, "benchmark_copy": 0.005,
         "duplicate_trace": 0.01, "near_copy_trace": 0.01}
_OPEN = ["Okay, so I need to solve this problem: {q}", "Alright, let me try to figure this out. {q}",
         "Let me read the problem again carefully. {q}"]
_SENT = [
    "Let me think about this step by step.", "Wait, maybe I should check that again.",
    "Hmm, so if ${v} = {a}$, then ${v}^2 + {b}{v} = {c}$.", "That gives $\\frac{{{a}}}{{{b}}}$ for the ratio.",
    "So the total is ${a} + {b} = {c}$, which seems right.", "But hold on, is that really the case for every ${v}$?",
    "Let's verify with a small example: take ${v} = {a}$.", "Then $\\sqrt{{{c}}}$ is not an integer, so that fails.",
    "Alternatively, we can factor: $({v} - {a})({v} + {b}) = 0$.", "So either ${v} = {a}$ or ${v} = -{b}$.",
    "Therefore the sum of the roots is ${c}$ by Vieta's formulas.", "I made a mistake earlier; let me redo it.",
    "Multiplying both sides by ${b}$, we get ${b}{v} = {c}$.", "So the probability is $\\dfrac{{{a}}}{{{c}}}$.",
    "The area of the triangle is $\\frac{{1}}{{2}} \\cdot {a} \\cdot {b}$.", "Yes, that matches what I found before.",
    "Now, ${v}_{{n+1}} = {a}{v}_n - {b}$ for $n \\ge 1$.", "Modulo ${a}$, the residues repeat every ${b}$ steps.",
]
_VARS = "xyzabnkmt"


def trace_length(rng: random.Random) -> int:
    """Characters of one trace: log-normal, median 8,000, clipped to 2,000-22,000."""
    return int(min(22_000, max(2_000, math.exp(rng.gauss(math.log(8_000), 0.55)))))


def _bank(rng: random.Random, size: int = 3000) -> list[str]:
    out = []
    for _ in range(size):
        k = rng.randint(2, 6)
        out.append(" ".join(rng.choice(_SENT).format(v=rng.choice(_VARS), a=rng.randint(1, 99), b=rng.randint(2, 30),
                                                     c=rng.randint(1, 999)) for _ in range(k)))
    return out


def _redraw_numbers(text: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(rng.randint(2, 10 ** min(len(m.group(0)), 4))), text)


def _edit(text: str, rng: random.Random) -> str:
    """One small edit that keeps every number: a word dropped, doubled spaces, or a phrase added."""
    words = text.split(" ")
    choice = rng.randrange(3)
    plain = [i for i, w in enumerate(words) if w.isalpha() and len(w) > 3]
    if choice == 0 and len(plain) > 3:
        del words[rng.choice(plain)]
        return " ".join(words)
    if choice == 1:
        return text.replace(". ", ".  ").replace(", ", " , ")
    return text.rstrip() + " Give your answer in simplest form."


def _respell(gold: str) -> str:
    if "\\frac" in gold:
        return gold.replace("\\frac", "\\dfrac")
    if "," in gold or "\\" in gold:
        return gold.replace(",", ", ").replace("\\", " \\").strip()
    return f"${gold}$"


def _wrong(gold: str, other: str, rng: random.Random) -> str:
    digits = [i for i, c in enumerate(gold) if c.isdigit()]
    if digits and rng.random() < 0.5:
        i = rng.choice(digits)
        return gold[:i] + str((int(gold[i]) + rng.randint(1, 8)) % 10) + gold[i + 1 :]
    return other if other != gold else gold + "+1"


def _response(rng: random.Random, bank: list[str], question: str, gold: str, other: str) -> tuple[str, str, str]:
    """``(response, finish_reason, outcome)`` for one sample."""
    target, parts = trace_length(rng), [rng.choice(_OPEN).format(q=question[:300])]
    size = len(parts[0])
    while size < target - 120:  # room for the last paragraph
        parts.append(rng.choice(bank))
        size += len(parts[-1]) + 2
    u = rng.random()
    if u < 0.02:
        return "\n\n".join(parts)[:target], "length", "truncated"
    if u < 0.05:
        return "\n\n".join(parts), "stop", "no_answer"
    if u < 0.73:
        answer, outcome = gold, "correct"
    elif u < 0.80:
        answer, outcome = _respell(gold), "respelled"
    elif u < 0.98:
        answer, outcome = _wrong(gold, other, rng), "wrong"
    else:
        parts.append("Let me double-check the whole computation once more; everything is consistent.")
        answer, outcome = gold, "correct"
    parts.append(f"So the final answer is $\\boxed{{{answer}}}$.")
    return "\n\n".join(parts), "stop", outcome


def _problems(rng: random.Random) -> Iterator[tuple[dict, dict | None]]:
    from skyt1.tasks import get_task

    train = get_task("math_train").problems("train")
    bench = get_task("math500").problems("test")
    seen: list[dict] = []
    k = 0
    while True:
        base = train[k % len(train)]
        question = base["question"] if k < len(train) else _redraw_numbers(base["question"], rng)
        p = {"id": f"synthetic/{k:07d}", "question": question, "answer": base["answer"],
             "meta": {"subject": base["meta"]["subject"], "level": base["meta"]["level"]}}
        planted, u = None, rng.random()
        if seen and u < RATES["duplicate_problem"]:
            src = rng.choice(seen)
            p.update(question=src["question"], answer=src["answer"])
            planted = {"kind": "duplicate_problem", "of": src["id"]}
        elif seen and u < RATES["duplicate_problem"] + RATES["near_duplicate_problem"]:
            src = rng.choice(seen)
            p.update(question=_edit(src["question"], rng), answer=src["answer"])
            planted = {"kind": "near_duplicate_problem", "of": src["id"]}
        elif u < sum(RATES[x] for x in ("duplicate_problem", "near_duplicate_problem", "benchmark_copy")):
            b = rng.choice(bench)
            q = b["question"] if rng.random() < 0.5 else b["question"].replace(" ", "  ", 1)
            p.update(question=q, answer=b["answer"])
            planted = {"kind": "benchmark_copy", "of": b["id"]}
        if planted is None and len(seen) < 50_000:
            seen.append(p)
        yield p, planted
        k += 1


def synthetic_rows(n_rows: int, seed: int = 0, *, samples: int = SAMPLES) -> Iterator[dict]:
    """``n_rows`` synthetic generate records (see the module docstring); deterministic in ``seed``."""
    rng = random.Random(seed)
    bank = _bank(random.Random(seed + 1))
    answers: list[str] = []
    made = 0
    for p, planted_problem in _problems(rng):
        answers.append(p["answer"])
        prev = None
        for index in range(samples):
            if made >= n_rows:
                return
            other = answers[rng.randrange(len(answers))]
            response, finish, _ = _response(rng, bank, p["question"], p["answer"], other)
            planted = planted_problem if index == 0 else None
            u = rng.random()
            if prev is not None and u < RATES["duplicate_trace"]:
                response, finish = prev["response"], prev["finish_reason"]
                planted = {"kind": "duplicate_trace", "of": [p["id"], index - 1]}
            elif prev is not None and u < RATES["duplicate_trace"] + RATES["near_copy_trace"]:
                words = prev["response"].split(" ")
                for i in rng.sample(range(len(words)), max(1, len(words) // 50)):
                    words[i] = rng.choice(("so", "then", "thus", "now"))
                response, finish = " ".join(words), prev["finish_reason"]
                planted = {"kind": "near_copy_trace", "of": [p["id"], index - 1]}
            row = {"problem_id": p["id"], "index": index, "task": "math_train", "source": "math_train",
                   "domain": "math", "verifier": "math", "question": p["question"], "answer": p["answer"],
                   "meta": p["meta"], "model": "synthetic-qwq", "prompt": p["question"], "response": response,
                   "finish_reason": finish,
                   "usage": {"prompt_tokens": len(p["question"]) // 4, "completion_tokens": len(response) // 4},
                   "seconds": 0.0, "planted": planted}
            prev = row
            made += 1
            yield row


def write_synthetic(path: str | Path, n_rows: int, seed: int = 0) -> dict:
    """Write ``synthetic_rows(n_rows, seed)`` to ``path`` (JSONL); return ``{"rows", "planted": {kind: n}}``."""
    planted: Counter = Counter()
    with Path(path).open("w", encoding="utf-8") as fh:
        for row in synthetic_rows(n_rows, seed):
            if row["planted"]:
                planted[row["planted"]["kind"]] += 1
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {"rows": n_rows, "planted": dict(sorted(planted.items()))}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(json.dumps(write_synthetic(a.out, a.rows, a.seed)))

"""Re-grade existing `number`-verifier records with the old rule (explicit answer, else the last
number) and the new one (explicit answer, else the asserted result, else the last number).

    python benchmarks/rescore_number.py runs/tiny/evaluate/base/arithmetic/score/records.jsonl \
        runs/tiny/evaluate/trained/arithmetic/score/records.jsonl

Prints, per file, accuracy (mean over problems, as skyt1's summary) under both rules and the rows
whose verdict flips. Reads only what the score stage wrote (``response``, ``answer``,
``problem_id``, ``finish_reason``); nothing is generated.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from skyt1.verifiers.math import equivalent, extract_answer
from skyt1.verifiers.number import extract_number, last_number


def _grade(row: dict, extract) -> bool:
    if row.get("finish_reason") == "length":
        return False
    got = extract(row.get("response") or "")
    return bool(got) and equivalent(got, str(row["answer"]))


def _accuracy(rows: list[dict], flags: list[bool]) -> float:
    by: dict[str, list[bool]] = {}
    for row, ok in zip(rows, flags):
        by.setdefault(str(row.get("problem_id", row.get("id"))), []).append(ok)
    return statistics.fmean(sum(v) / len(v) for v in by.values())


def main(paths: list[str]) -> None:
    for path in paths:
        rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
        old = [_grade(r, lambda t: extract_answer(t) or last_number(t)) for r in rows]
        new = [_grade(r, extract_number) for r in rows]
        print(f"{path}: {len(rows)} rows; accuracy old {_accuracy(rows, old):.1%} -> new {_accuracy(rows, new):.1%}")
        for r, a, b in zip(rows, old, new):
            if a != b:
                print(f"  {'correct -> wrong' if a else 'wrong -> correct'}: answer {r['answer']!r}, "
                      f"response {r['response'][:100]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])

"""maj@n's answer grouping: in the parent (math-verify, no time limit, as before) against
``skyt1.verifiers.vote`` (time-limited workers).

Builds ``--problems`` MATH500 problems x ``--n`` samples whose extracted answers are drawn, with a
fixed seed, from the problem's own answer (half the time), two LaTeX spellings of it, and three
other problems' answers, then times ``metrics.summarize`` both ways and checks they agree.

    python benchmarks/bench_vote.py [--problems 100] [--n 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import random
import time

from skyt1.metrics import summarize
from skyt1.verifiers.math import equivalent, warm_up
from skyt1.verifiers.vote import vote_classes

MATH500 = pathlib.Path(__file__).resolve().parents[1] / "src" / "skyt1" / "data" / "math500" / "test.jsonl"


def rows(problems: int, n: int) -> list[dict]:
    answers = [json.loads(line)["answer"] for line in MATH500.read_text().splitlines()][:problems + 3]
    rng, out = random.Random(0), []
    for i in range(problems):
        gold = answers[i]
        pool = [gold] * 3 + [f"${gold}$", f"\\boxed{{{gold}}}"] + answers[i + 1 : i + 4]
        for _ in range(n):
            a = rng.choice(pool)
            out.append({"problem_id": str(i), "extracted": a, "correct": equivalent(a, gold)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=100)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    warm_up()
    data = rows(args.problems, args.n)
    t = time.perf_counter()
    parent = summarize(data, equivalent=equivalent)["maj@n"]
    t_parent = time.perf_counter() - t
    t = time.perf_counter()
    classes = vote_classes(data, "math", workers=args.workers, timeout=20.0)
    workers = summarize(data, vote_classes=classes)["maj@n"]
    t_workers = time.perf_counter() - t
    print(f"{args.problems} problems x {args.n} samples: parent {t_parent:.2f} s (no time limit), "
          f"workers {t_workers:.2f} s incl. pool start ({args.workers} processes, 20 s per problem); "
          f"maj@n {parent:.3f} vs {workers:.3f}")


if __name__ == "__main__":
    main()

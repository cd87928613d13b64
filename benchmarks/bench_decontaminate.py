"""Decontamination's trade-off by ``min_overlap``: what it removes from clean training sets
(the AIME archive and MATH train) against how much planted contamination it finds.

Usage: python benchmarks/bench_decontaminate.py [--overlaps 0,0.1,0.2,0.3,0.5] [--plant 400]

Benchmarks: math500, aime24, aime25, amc23 (bundled). Planted contamination, seeded, from
benchmark questions of at least 12 words, four kinds (``--plant`` of each):

- ``wrapped``: the question between an instruction and a request for the answer format;
- ``reworded``: three words replaced (``find`` -> ``determine``, ``the`` -> ``this``, ...);
- ``filler``: a filler word after every sixth word (no 8-word window survives);
- ``excerpt``: the question's first half only, behind a different opening sentence.

And ``renumbered``: the question with every number changed: the same text around other
numbers, another problem in the same template (reported apart: counted as contamination by
the upstream rule, spared by the numbers guard unless most of the text is shared).

For each ``min_overlap``: the share of each training set flagged (and by which method), the
share of each planted kind found, and the seconds per 1,000 questions.
"""

import argparse
import random
import re
import time
from collections import Counter

from skyt1.curation.decontaminate import Decontaminator, default_benchmarks
from skyt1.tasks import get_task

_SWAPS = [("find", "determine"), ("the", "this"), ("what", "which"), ("is", "equals"), ("of", "for"),
          ("compute", "calculate"), ("how many", "what number of")]


def _reword(q: str, rng: random.Random) -> str:
    swaps = [s for s in _SWAPS if re.search(rf"\b{s[0]}\b", q, flags=re.I)]
    for a, b in rng.sample(swaps, min(3, len(swaps))):
        q = re.sub(rf"\b{a}\b", b, q, count=1, flags=re.I)
    return q


def _filler(q: str) -> str:
    return " ".join(w + (" now" if i % 6 == 5 else "") for i, w in enumerate(q.split()))


def _renumber(q: str, rng: random.Random) -> str:
    return re.sub(r"\d+", lambda m: str(int(m.group()) + rng.randint(1, 9)), q)


def planted(bench: dict, n: int, seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    pool = [p["question"] for ps in bench.values() for p in ps if len(p["question"].split()) >= 12]
    pick = rng.sample(pool, min(n, len(pool)))
    with_numbers = [q for q in pool if re.search(r"\d", q)]
    return {
        "wrapped": [f"Solve the following problem. {q} Put your final answer in a box." for q in pick],
        "reworded": [_reword(q, rng) for q in pick],
        "filler": [_filler(q) for q in pick],
        "excerpt": ["Consider this problem. " + " ".join(q.split()[: max(8, len(q.split()) // 2)]) for q in pick],
        "renumbered": [_renumber(q, rng) for q in rng.sample(with_numbers, min(n, len(with_numbers)))],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--overlaps", default="0,0.1,0.2,0.3,0.5")
    ap.add_argument("--plant", type=int, default=400)
    args = ap.parse_args()
    bench = default_benchmarks(["math500", "aime24", "aime25", "amc23"])
    corpora = {name: [p["question"] for p in get_task(name).problems(None)]
               for name in ("aime_historical", "math_train")}
    plants = planted(bench, args.plant)
    print(f"benchmarks: {sum(map(len, bench.values()))} questions; planted: {len(plants['wrapped'])} of each kind")
    for overlap in [float(x) for x in args.overlaps.split(",")]:
        decon = Decontaminator(bench, min_overlap=overlap)
        parts = []
        for name, questions in corpora.items():
            t = time.perf_counter()
            hits = [h for h in map(decon.check, questions) if h is not None]
            per_k = 1000 * (time.perf_counter() - t) / len(questions)
            methods = dict(Counter(h["method"] for h in hits))
            parts.append(f"{name} flagged {len(hits) / len(questions):6.2%} {methods} ({per_k:.2f} s/1k)")
        found = {kind: sum(decon.check(q) is not None for q in qs) / len(qs) for kind, qs in plants.items()}
        print(f"min_overlap {overlap:.2f}: " + "; ".join(parts))
        print("    planted found: " + ", ".join(f"{k} {v:.1%}" for k, v in found.items() if k != "renumbered")
              + f"; renumbered flagged {found['renumbered']:.1%}", flush=True)


if __name__ == "__main__":
    main()

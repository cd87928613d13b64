"""How many training problems decontamination removes, by rule: the upstream any-8-gram rule
(open-r1, s1) against ``min_overlap`` thresholds, and the time each pass takes.

Usage: python benchmarks/bench_decontaminate.py [--overlaps 0,0.2,0.5]

Bundled data: the AIME archive (``aime_historical``) and MATH train (``math_train``) against
math500, aime24, aime25 and amc23.
"""

import argparse
import time
from collections import Counter

from skyt1.curation.decontaminate import Decontaminator, decontaminate, default_benchmarks
from skyt1.tasks import get_task


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--overlaps", default="0,0.2,0.5")
    args = ap.parse_args()
    bench = default_benchmarks(["math500", "aime24", "aime25", "amc23"])
    corpora = {name: get_task(name).problems(None) for name in ("aime_historical", "math_train")}
    for overlap in [float(x) for x in args.overlaps.split(",")]:
        decon = Decontaminator(bench, min_overlap=overlap)
        for name, problems in corpora.items():
            t = time.time()
            _, removed = decontaminate(problems, decon)
            methods = dict(Counter(r["contamination"]["method"] for r in removed))
            print(f"min_overlap {overlap:.2f}: {name:16s} removed {len(removed):4d} of {len(problems):5d} "
                  f"{methods} in {time.time() - t:.1f} s")


if __name__ == "__main__":
    main()

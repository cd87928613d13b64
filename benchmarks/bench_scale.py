"""The streaming stages at scale: rows/s, peak memory and how both grow with the number of rows.

For each size (10k and 100k rows; ``--million`` adds 1M), writes the seeded synthetic teacher output
of ``benchmarks/synthetic.py`` (QwQ-shaped traces, 4 samples per MATH-train problem, planted
duplicates), then runs the stages of ``STAGES`` in order, each in its own subprocess on the previous
stage's records, and prints per stage and size: seconds, rows/s, the peak RSS of the stage's process
(``getrusage``) and of its whole process tree (the stage and its workers, sampled from /proc every
0.1 s), rows per CPU-second of that tree and the machine's mean load average while it ran (on a
shared machine rows/s falls with the load; rows per CPU-second much less), and, over the sizes,
the growth exponents ``b`` of ``time ~ N^b`` and ``memory ~ N^b`` (least squares on the logs: 1 is
linear, 0 is flat). Results also go to ``WORKDIR/results.json``.

    python benchmarks/bench_scale.py [--sizes 10000,100000] [--million] [--stages score,rewrite]
                                     [--workers 2] [--workdir /tmp/skyt1-scale] [--prune]

Disk: the files of one size take about 8 KB per row (at 1M: input 9.8 GB, score 10 GB, rewrite
17 GB, curate 43 GB with its four exports). ``--prune`` deletes a stage's input once no later
stage reads it, so 1M peaks at about 60 GB (rewrite's output next to curate's).

Measured 2026-12-03 with ``--million --prune`` (32 minutes), the machine otherwise idle (mean
load 0.8-2.7 while each stage ran; the load average lags):

    rows  stage    rows/s  peak MB (process / with workers)  rows per CPU-s
    10k   score      1031    42 / 220                           585
    10k   rewrite    2048    72 / 196                          1235
    10k   curate     2436   124                                2503   (3,356 input rows/s)
    100k  score      1361    63 / 257                           814
    100k  rewrite    2518    74 / 201                          1391
    100k  curate     2083   176                                2089   (2,958 input rows/s)
    1M    score      1490   288 / 507                           900
    1M    rewrite    2356    93 / 206                          1315
    1M    curate     1654   549                                1626   (2,487 input rows/s)
    growth: memory ~ N^0.18 (score), N^0.01 (rewrite), N^0.32 (curate)
    curate recall at 1M [found, reached]: duplicate problems 2,375/2,375, near duplicates
    1,800/1,811, MATH-500 copies 340/340, identical traces 5,629/5,629, near-copy traces 5,170/5,666
    (24 identical traces were removed as near copies of a third trace: counted found since, 5,605
    as the run printed them)

What grew: score's per-problem tally (``metrics.Tally``: counts and distinct extracted answers,
about 180 bytes a row at 4 samples a problem; 288 MB at 1M) and curate's dedup and
decontamination indexes (``stages.curate``); rewrite holds nothing per row. The same code at
100k rows on another run: score 1,303, rewrite 2,374, curate 2,606 input rows/s.

Then score's tally went to per-problem spill files, tallied one part at a time (``stages.score``):
``--million --stages score --prune`` the same afternoon, on a slower machine (mean load 0.8-2.2):

    rows  stage    rows/s  peak MB (process / with workers)  rows per CPU-s
    10k   score       827    41 / 219                           500
    100k  score      1303    48 / 241                           759
    1M    score      1196   108 / 326                           723
    growth: memory ~ N^0.09

At 100k, the old and the new code alternated (old, new, old, new): 1,226, 1,235, 1,233 and
1,253 rows/s, peaks 62, 48, 63 and 48 MB. The spill itself costs about 9 CPU-seconds per million
rows; the slower 1M figure is the machine's hour (its workers' CPU per row rose too).

Curate alone on the same 100k rewrite output, before and after that day's curate changes
(streamed pairs, inputs hashed once, bytes written as read, ASCII escaping, shared MinHash
signatures, cheaper sketches, 1 MB buffers; ``--child curate``,
the same harness, load 0.8-1.0): before 48.8 s (1,444 kept rows/s; 37.0 user and 10.6 system
CPU-s, peak 150 MB), after 32.1-37.2 s (1,891-2,194 kept rows/s; 26.0-26.2 user and 6.1-11.5
system CPU-s, the system time varying with the page cache, peak 176 MB). Outputs byte-identical
to before at 10k and 20k rows.

curate's planted figures are a recall, ``[found, reached]`` per kind (``bench_curate.planted_recall``):
of the planted rows that reached the step that should find them (with what they copy), those
that step dropped as copies; rows an earlier step dropped (incorrect or truncated samples) are
left out, and a copy that came first in the file counts as found when its original is dropped
for it. The check runs after the stage's process exits, outside its time, CPU and memory.
For curate, rows/s counts kept rows (the lines of its ``records.jsonl``); input rows/s is
printed next to it.

Adding a stage: one entry in ``STAGES``, ``name: Bench(source, run)``, where ``source`` names the
stage whose ``records.jsonl`` it reads (``"generate"``: the synthetic file) and ``run(inp, out,
workers)`` runs the stage into the directory ``out`` and returns its summary (printed as ``extra``
when it returns a ``"bench"`` dict), and the optional ``check(out, {"steps": ...})`` measures the
outputs afterwards (curate: planted items found). ``score_cli`` (opt-in) is ``skyt1 score
--task math``: the score stage plus the copy of its rows back into input order.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil  # installed with accelerate, a dependency of skyt1

sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass(frozen=True)
class Bench:
    source: str  # the stage whose records.jsonl this one reads; "generate" is the synthetic file
    run: Callable[[Path, Path, int], dict]  # (input JSONL, stage directory, workers) -> summary
    default: bool = True  # run without --stages
    check: Callable[[Path, dict], dict] | None = None  # (stage directory, summary) -> extra, after the timing


def _score(inp: Path, out: Path, workers: int) -> dict:
    from skyt1.records import Stage, read_jsonl
    from skyt1.stages.score import score

    stage = Stage(out, "score", {"bench": "score", "workers": workers}, inputs=[inp])
    stage.reset()
    stage.check()
    return score(read_jsonl(inp), stage, workers=workers)  # each row's verifier: "math"


def _score_cli(inp: Path, out: Path, workers: int) -> dict:
    """``skyt1 score --task math --in INP --out OUT/records.jsonl``: the stage, then rows put back in input order."""
    from skyt1.stages.score import score_file

    out.mkdir(parents=True, exist_ok=True)
    return score_file(inp, out / "records.jsonl", "math", workers=workers, log=lambda _: None)


def _rewrite(inp: Path, out: Path, workers: int) -> dict:
    from skyt1.config import RewriteConfig
    from skyt1.records import Stage, read_jsonl
    from skyt1.stages.rewrite import rewrite

    stage = Stage(out, "rewrite", {"bench": "rewrite"}, inputs=[inp])
    stage.reset()
    stage.check()
    return rewrite(read_jsonl(inp), stage, RewriteConfig(), workers=workers)


def _curate(inp: Path, out: Path, workers: int) -> dict:
    """The curate stage streamed from the rewrite stage's file (decontaminated against MATH-500)."""
    from bench_curate import curate_run

    return curate_run(inp, out)


def _curate_check(out: Path, summary: dict) -> dict:
    """Per planted kind, ``[found, reached]`` (``bench_curate.planted_recall``)."""
    from bench_curate import planted_recall

    return planted_recall(out, summary)


STAGES: dict[str, Bench] = {
    "score": Bench("generate", _score),
    "score_cli": Bench("generate", _score_cli, default=False),
    "rewrite": Bench("score", _rewrite),
    "curate": Bench("rewrite", _curate, check=_curate_check),
}


def _sample(proc: psutil.Process, cpu: dict[int, float]) -> int:
    """RSS of ``proc`` and its descendants now; each one's CPU seconds so far go into ``cpu``."""
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            with p.oneshot():
                total += p.memory_info().rss
                times = p.cpu_times()
                cpu[p.pid] = times.user + times.system
        except psutil.Error:  # exited between listing and reading
            pass
    return total


def run_stage(name: str, inp: Path, out: Path, workers: int) -> dict:
    """Run stage ``name`` in a subprocess; its seconds, rows, peak RSS (process, and process tree)."""
    cmd = [sys.executable, __file__, "--child", name, str(inp), str(out), str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    watch, tree_peak, cpu, load = psutil.Process(proc.pid), 0, {}, []
    while proc.poll() is None:
        try:
            tree_peak = max(tree_peak, _sample(watch, cpu))
        except psutil.Error:
            pass
        load.append(psutil.getloadavg()[0])
        time.sleep(0.1)
    report = proc.stdout.read()
    if proc.returncode != 0:
        raise RuntimeError(f"stage {name} failed (exit {proc.returncode})")
    child = json.loads(report.strip().splitlines()[-1])
    if STAGES[name].check is not None:  # here, after the stage's process: not in its time, CPU or memory
        child["extra"] = STAGES[name].check(out, {"steps": child["steps"]})
    child.pop("steps", None)
    # CPU of the tree as last sampled (a worker's last 0.1 s may be missed): with the machine's load
    # average it tells how far a busy machine held the stage back from what its cores allow.
    return {**child, "tree_peak_mb": round(tree_peak / 2**20, 1), "cpu_s": round(sum(cpu.values()), 1),
            "load": round(sum(load) / max(len(load), 1), 2)}


def _child(name: str, inp: str, out: str, workers: str) -> None:
    bench = STAGES[name]
    t = time.perf_counter()
    summary = bench.run(Path(inp), Path(out), int(workers))
    seconds = time.perf_counter() - t
    rows = sum(1 for _ in Path(out, "records.jsonl").open("rb"))
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": round(seconds, 2), "rows": rows, "rows_per_s": round(rows / seconds, 1),
                      "input_rows": summary.get("input", rows), "peak_mb": round(own.ru_maxrss / 1024, 1),  # KiB
                      "stage_cpu_s": round(own.ru_utime + own.ru_stime, 1), "extra": summary.get("bench"),
                      "steps": summary.get("steps")}))


def exponent(sizes: list[int], values: list[float]) -> float | None:
    """Least-squares slope of log(value) on log(size): the b of value ~ size^b."""
    if len(sizes) < 2:
        return None
    xs, ys = [math.log(s) for s in sizes], [math.log(max(v, 1e-9)) for v in values]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--million", action="store_true", help="add 1,000,000 rows (9.6 GB of input, 25 min)")
    ap.add_argument("--stages", default=",".join(name for name, b in STAGES.items() if b.default),
                    help=f"comma-separated, of {', '.join(STAGES)}")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="/tmp/skyt1-scale")
    ap.add_argument("--prune", action="store_true", help="delete each input once no later stage reads it")
    args = ap.parse_args()
    from synthetic import write_synthetic

    sizes = [int(s) for s in args.sizes.split(",")] + ([1_000_000] if args.million else [])
    stages = args.stages.split(",")
    last_reader = {STAGES[name].source: i for i, name in enumerate(stages)}
    results: dict[str, dict[int, dict]] = {name: {} for name in stages}
    for n in sizes:
        base = Path(args.workdir) / str(n)
        base.mkdir(parents=True, exist_ok=True)
        generated = base / "generate.jsonl"
        planted = write_synthetic(generated, n, args.seed)
        print(f"{n} rows: {generated.stat().st_size / 2**20:.0f} MiB, planted {planted['planted']}", flush=True)
        for name in stages:
            src = STAGES[name].source
            inp = generated if src == "generate" else base / src / "records.jsonl"
            r = results[name][n] = run_stage(name, inp, base / name, args.workers)
            per_cpu = r["rows"] / max(r["cpu_s"], 1e-9)
            fed = f" ({r['input_rows'] / r['seconds']:.0f} input rows/s)" if r["input_rows"] != r["rows"] else ""
            print(f"  {name:8s} {r['seconds']:8.1f} s {r['rows_per_s']:8.0f} rows/s{fed}  "
                  f"peak {r['peak_mb']:6.0f} MB, "
                  f"with workers {r['tree_peak_mb']:6.0f} MB; {per_cpu:6.0f} rows per CPU-s "
                  f"({r['stage_cpu_s']:.0f} of {r['cpu_s']:.0f} CPU-s in the stage's process), load {r['load']}"
                  + (f"  {r['extra']}" if r.get("extra") else ""),
                  flush=True)
            if args.prune and last_reader.get(src) == stages.index(name):
                if src == "generate":
                    inp.unlink()
                else:
                    shutil.rmtree(inp.parent)
    for name in stages:
        ns = sorted(results[name])
        print(f"{name}: time ~ N^{exponent(ns, [results[name][n]['seconds'] for n in ns])}, "
              f"memory ~ N^{exponent(ns, [results[name][n]['tree_peak_mb'] for n in ns])}")
    out = Path(args.workdir) / "results.json"
    out.write_text(json.dumps({"sizes": sizes, "workers": args.workers, "results": results}, indent=1))


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _child(*sys.argv[2:])
    else:
        main()

"""Throughput, peak memory and planted items found by the curate stage on a seeded synthetic set.

The set is shaped like QwQ teacher output after the rewrite stage: 4 samples per problem,
traces of 2k-22k characters (log-normal, median about 8k), every row with its ``response`` and
Sky-T1 ``formatted`` text, 85% correct, 3% truncated. Planted, per 1,000 problems: 10 exact
duplicate problems (case and spacing), 10 near duplicates (one word changed, same numbers,
MinHash estimate >= 0.8), 10 MATH-500 problems behind an opening sentence (each once, until the
ones of 20+ words run out), 20 near-copy traces (five words changed) and 10 identical traces.

Usage: python benchmarks/bench_curate.py [--rows 10000,100000] [--ray] [--scale 1.0] [--hf-dataset]

Measured 2026-12-03 on the shared 2-core machine (load average 2-5; decontamination against
MATH-500, defaults otherwise); rows/s is wall time, then rows per CPU-second of the stage:

    rows            rows/s   per CPU-s   peak RSS   planted found
    10k              1,725       2,442     100 MB   exact 34/34, near 31/31, MATH-500 27/27,
                                                    near-copy traces 141/143, same trace 70/70
    100k             1,805       2,006     149 MB   256/256, 271/271, 241/241, 1,437/1,448, 729/729
    300k             1,570       2,148     243 MB   729/729, 766/767, 335/335, 4,383/4,413, 2,152/2,152
    1M (--scale 0.05) 3,974      3,997     558 MB   (short traces: the indexes at 1M rows; 300k at
                                                    this scale peaks at 217 MB, 26 MB under full length)

On the final code of that day (streamed pairs, bytes written as read, 1 MB buffers), at half
length, load about 1:

    1M (--scale 0.5)  3,649       3,686     541 MB   exact 2,391/2,391, near 2,554/2,559, MATH-500
                                                    335/335, near-copy 14,906/14,960, same trace 7,405/7,405

The same with ``--hf-dataset`` (the Hugging Face dataset of the 832,485 kept rows saved too),
after its Arrow shards were moved into place rather than copied by ``save_to_disk``: 3,251 rows/s,
peak 549 MB. Before, saving alone (the rows of ``records.jsonl``, no curation) peaked at 1,123 MB
for 100k rows and 2,967 MB for 300k; after, 223 and 247 MB.

A full-length 1M run needs about 60 GB of disk for its input and outputs (it filled this
machine's); from the two scales, its peak would be about 585 MB. An earlier run, before the last
memory changes, at 10k/100k on a quieter machine: 2,013 and 2,298 rows/s.

``curate_stage_bench(rows_path, out, **cfg)`` runs the stage on any rows file in a child
process and returns ``{"rows", "seconds", "rows_per_s", "peak_rss_mb", "summary"}``, for
``bench_scale.py``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_WORDS = None


def _vocab(rng: random.Random) -> list[str]:
    syll = ["ka", "lo", "mi", "ne", "tu", "ra", "si", "po", "ve", "du", "the", "and", "of", "is", "we", "so"]
    return ["".join(rng.choice(syll) for _ in range(rng.randint(1, 3))) for _ in range(3000)]


def _pool(rng: random.Random, words: list[str], n_words: int = 1_200_000) -> str:
    out = []
    for _ in range(n_words):
        r = rng.random()
        out.append(str(rng.randint(0, 999)) if r < 0.08 else ("\n\n" if r < 0.1 else rng.choice(words)))
    return " ".join(out)


def _formatted(trace: str, answer: str) -> str:
    return (f"<|begin_of_thought|>\n\n{trace}\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n"
            f"So the answer is $\\boxed{{{answer}}}$.\n\n<|end_of_solution|>")


def _edit(text: str, rng: random.Random, n: int) -> str:
    words = text.split(" ")
    free = [i for i, w in enumerate(words) if w and not any(ch.isdigit() for ch in w) and w != "banana"]
    for i in rng.sample(free, min(n, len(free))):
        words[i] = "banana"
    return " ".join(words)


def make_rows(n_rows: int, path: Path, seed: int = 0, scale: float = 1.0) -> dict:
    """Write ``n_rows`` rows to ``path``; return what was planted, by kind. ``scale`` multiplies
    every trace length (``--scale 0.05``: 100-1,100 characters, the indexes at 1M rows without
    60 GB of input and output on disk)."""
    from skyt1.tasks import get_task

    rng = random.Random(seed)
    words = _vocab(rng)
    pool = _pool(rng, words)
    bench = [p["question"] for p in get_task("math500").problems() if len(p["question"].split()) >= 20]
    rng.shuffle(bench)  # each planted benchmark copy is another benchmark problem (until they run out)
    planted = {"exact": [], "near": [], "bench": [], "near_copy": [], "same_trace": []}
    questions: list[str] = []
    n_problems = max(1, n_rows // 4)
    with path.open("w", encoding="utf-8") as fh:
        for p in range(n_problems):
            pid = f"syn/{p}"
            kind = rng.random()
            if questions and kind < 0.01:
                q = "  " + rng.choice(questions).upper()
                planted["exact"].append(pid)
            elif questions and kind < 0.02:
                q = _edit(rng.choice(questions), rng, 1)
                planted["near"].append(pid)
            elif kind < 0.03 and bench:
                q = "Here is a contest problem. " + bench.pop()
                planted["bench"].append(pid)
            else:
                q = " ".join(rng.choice(words) if rng.random() > 0.15 else str(rng.randint(2, 9999))
                             for _ in range(rng.randint(25, 70))) + "?"
                questions.append(q)
            answer = str(rng.randint(0, 999))
            traces = []
            for i in range(4):
                if i and rng.random() < 0.02:
                    trace = _edit(traces[0], rng, 5)
                    planted["near_copy"].append((pid, i))
                elif i and rng.random() < 0.01:
                    trace = traces[0]
                    planted["same_trace"].append((pid, i))
                else:
                    size = int(scale * min(22000, max(2000, math.exp(rng.gauss(math.log(8000), 0.55)))))
                    start = rng.randrange(len(pool) - size)
                    trace = pool[start : start + size]
                traces.append(trace)
                correct, cut = rng.random() < 0.85, rng.random() < 0.03
                if i == 0 or trace is traces[0] or (pid, i) in planted["near_copy"][-1:]:
                    correct, cut = True, False  # a planted copy, and what it copies, reach the dedup step
                row = {"problem_id": pid, "task": "syn", "domain": "math", "question": q, "answer": answer,
                       "index": i, "model": "qwq-shaped", "response": trace + f" so \\boxed{{{answer}}}",
                       "finish_reason": "length" if cut else "stop", "correct": correct,
                       "usage": {"prompt_tokens": 100, "completion_tokens": len(trace) // 4},
                       "extracted": answer if correct else "0", "reason": "correct" if correct else "wrong_answer",
                       "formatted": _formatted(trace, answer), "rewrite": "ok"}
                fh.write(json.dumps(row) + "\n")
    return planted


def _child(rows_path: str, out: str, cfg: str) -> None:
    from skyt1.config import CurateConfig
    from skyt1.records import Stage
    from skyt1.stages.curate import curate

    config = CurateConfig(**json.loads(cfg))
    stage = Stage(Path(out), "curate", config.model_dump(exclude={"ray"}))
    stage.check(force=True)
    t, cpu = time.perf_counter(), time.process_time()
    summary = curate(Path(rows_path), stage, config)
    cpu = time.process_time() - cpu
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # Linux: kilobytes
    print(json.dumps({"seconds": time.perf_counter() - t, "cpu": cpu, "peak_kb": peak_kb, "summary": summary}))


def curate_stage_bench(rows_path: Path, out: Path, **cfg) -> dict:
    """Run the curate stage on ``rows_path`` in a child process; time, peak RSS and the summary."""
    cfg = {"name": "bench", "histograms": False, "decontaminate": ["math500"], **cfg}
    res = subprocess.run([sys.executable, __file__, "--child", str(rows_path), str(out), json.dumps(cfg)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"curate failed (exit {res.returncode}):\n{res.stderr[-3000:]}")
    result = json.loads(res.stdout.strip().splitlines()[-1])
    n = result["summary"]["input"]
    return {"rows": n, "seconds": round(result["seconds"], 2), "rows_per_s": round(n / result["seconds"]),
            "rows_per_cpu_s": round(n / result["cpu"]),
            "peak_rss_mb": round(result["peak_kb"] / 1024), "summary": result["summary"]}


_REASON = {"duplicate_problem": ("duplicate_of", "near_duplicate_of"),
           "near_duplicate_problem": ("near_duplicate_of", "duplicate_of"),  # an edit normalisation undoes
           "benchmark_copy": ("contaminated",),
           "duplicate_trace": ("duplicate_sample", "near_copy_of"),  # near copy of a third trace its original copies
           "near_copy_trace": ("near_copy_of", "duplicate_sample")}
_FINDS = {"duplicate_problem": "dedup", "near_duplicate_problem": "dedup", "benchmark_copy": "decontaminate",
          "duplicate_trace": "dedup_samples", "near_copy_trace": "dedup_samples"}  # the step that should find it


def curate_run(rows_path: Path, out: Path, **cfg) -> dict:
    """For ``bench_scale.py``: the curate stage on ``rows_path`` in this process; its summary."""
    from skyt1.config import CurateConfig
    from skyt1.records import Stage
    from skyt1.stages.curate import curate

    config = CurateConfig(**{"name": "bench", "histograms": False, "decontaminate": ["math500"], **cfg})
    stage = Stage(Path(out), "curate", config.model_dump(exclude={"ray"}), inputs=[Path(rows_path)])
    stage.reset()
    stage.check()
    return curate(Path(rows_path), stage, config)


def planted_recall(out: Path, summary: dict) -> dict:
    """Recall on the planted rows of ``benchmarks/synthetic.py`` after ``curate_run``: per kind,
    ``[found, reached]``. ``reached`` counts the planted rows that got to the step that should
    find them (``_FINDS``) with their original there too (for a problem, a row of the problem
    it copies; for a trace, the trace it copies); ``found``, those of them where that step
    dropped the copy, or the original when the copy came first in the file (the rewrite stage
    writes rows as they finish), for that reason. A planted row that an earlier step dropped
    (an incorrect or truncated sample) is not counted: no later step could find it.

    Near copies are split by their exact similarity to what they copy (``_exact``), against the
    run's thresholds: ``near_duplicate_problem`` and ``near_copy_trace`` are the pairs at or above
    it, which the stage promises to find; ``..._below`` the planted edits that fell under it."""
    order = [s["step"] for s in summary["steps"]]
    seen: dict = {}  # (problem, index), and problem -> (steps passed: all of them if kept, reason dropped)
    planted: list = []
    for d, kept in _rows(out):
        state = (len(order), "") if kept else (order.index(d["dropped_at"]), d["drop_reason"].split(":")[0])
        seen[(d["problem_id"], d.get("index"))] = state
        seen[d["problem_id"]] = max(seen.get(d["problem_id"], (-1, "")), state)
        kind = (d.get("planted") or {}).get("kind")
        if kind in _REASON:
            of = d["planted"]["of"]
            origin = None if kind == "benchmark_copy" else tuple(of) if isinstance(of, list) else of
            planted.append((kind, (d["problem_id"], d.get("index")), origin))
    similar = _exact(out, [(k, key, origin) for k, key, origin in planted if k.startswith("near")])
    config = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))["config"]
    bound = {"near_duplicate_problem": config["near_dedup_threshold"],
             "near_copy_trace": config["near_copy_threshold"]}
    counts: dict = {}
    for kind, key, origin in planted:
        step = order.index(_FINDS[kind])
        mine, theirs = seen[key], seen.get(origin, (len(order), ""))
        if kind in ("duplicate_problem", "near_duplicate_problem"):
            mine = seen[key[0]]
        if mine[0] >= step and theirs[0] >= step:
            label = kind if kind not in bound or similar[key] >= bound[kind] else kind + "_below"
            c = counts.setdefault(label, [0, 0])
            c[0] += any(at == step and why in _REASON[kind] for at, why in (mine, theirs))
            c[1] += 1
    return counts


def _rows(out: Path):
    for name, kept in (("records.jsonl", True), ("dropped.jsonl", False)):
        with (Path(out) / name).open(encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line), kept


def _exact(out: Path, pairs: list) -> dict:
    """Exact Jaccard of each near copy (``(kind, key, origin)``) with its original, by key, on the
    sets the stage estimates: character 5-gram shingles of the normalised question
    (``dedup.shingles``) for problems, byte 8-grams of the response (``copies.sketch``) for traces."""
    from skyt1.curation.dedup import normalize, shingles

    want = {key[0] if k.startswith("near_duplicate") else key for k, key, _ in pairs}
    want |= {origin for _, _, origin in pairs}
    text: dict = {}
    for d, _ in _rows(out):
        for key, field in (((d["problem_id"], d.get("index")), "response"), (d["problem_id"], "question")):
            if key in want and key not in text:
                text[key] = d[field]

    def grams(key) -> set:
        if isinstance(key, str):
            return shingles(normalize(text[key]), 5, "char")
        data = text[key].encode("utf-8")
        return {data[i:i + 8] for i in range(max(len(data) - 7, 1))}

    out_sim = {}
    for kind, key, origin in pairs:
        a, b = grams(key[0] if kind.startswith("near_duplicate") else key), grams(origin)
        out_sim[key] = len(a & b) / max(len(a | b), 1)
    return out_sim


def found(planted: dict, out: Path) -> dict:
    """Planted items dropped with the right reason, per kind: ``[found, planted]``."""
    want = {"exact": "duplicate_of", "near": "near_duplicate_of", "bench": "contaminated",
            "near_copy": "near_copy_of", "same_trace": "duplicate_sample"}
    reasons: dict = {}
    with (out / "dropped.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            reasons[(d["problem_id"], d["index"])] = d["drop_reason"].split(":")[0]
            reasons.setdefault(d["problem_id"], set()).add(d["drop_reason"].split(":")[0])
    hits = {}
    for kind, items in planted.items():
        ok = sum((want[kind] in reasons.get(i, ())) if isinstance(i, str) else reasons.get(i) == want[kind]
                 for i in items)
        hits[kind] = [ok, len(items)]
    return hits


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        return _child(*sys.argv[2:5])
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="10000,100000")
    ap.add_argument("--ray", action="store_true", help="MinHash and decontamination as Ray tasks (local cluster)")
    ap.add_argument("--scale", type=float, default=1.0, help="trace length factor (default 1: 2k-22k characters)")
    ap.add_argument("--hf-dataset", action="store_true", help="also save the Hugging Face dataset (hf_dataset: true)")
    args = ap.parse_args()
    cfg = {"ray": {"num_cpus": 2, "shard_size": 256}} if args.ray else {}
    if args.hf_dataset:
        cfg["hf_dataset"] = True
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in args.rows.split(",")]:
            path = Path(tmp) / f"rows_{n}.jsonl"
            planted = make_rows(n, path, scale=args.scale)
            r = curate_stage_bench(path, Path(tmp) / f"curate_{n}", **cfg)
            hits = found(planted, Path(tmp) / f"curate_{n}")
            mb = path.stat().st_size / 1e6
            print(f"{n:>8} rows ({mb:,.0f} MB): {r['rows_per_s']:>6} rows/s ({r['rows_per_cpu_s']} per CPU-second), "
                  f"{r['seconds']:7.1f} s, "
                  f"peak RSS {r['peak_rss_mb']:>4} MB, kept {r['summary']['kept']}; planted found {hits}", flush=True)


if __name__ == "__main__":
    main()

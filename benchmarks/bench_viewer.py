"""The trace viewer at 100k rows: time to build it, the size of what the page loads, and, in
headless chromium, the time to the first page and to a search that must read every chunk.

Usage: python benchmarks/bench_viewer.py [--rows 100000] [--chars 1500] [--keep DIR]

The run directory is synthetic (curation's kept and dropped rows, 4 samples a problem, 3 sources,
traces of ``--chars`` characters in Sky-T1 format with LaTeX); the browser part needs chromium.
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from skyt1.report.viewer import build_viewer


def _write_run(run: Path, rows: int, chars: int) -> None:
    (run / "curate").mkdir(parents=True)
    filler = ("We compute $\\frac{a}{b} + \\sqrt{x^2 + 1}$ and check each case. " * (chars // 64 + 1))[:chars]
    with (run / "curate" / "records.jsonl").open("w") as kept, (run / "curate" / "dropped.jsonl").open("w") as dropped:
        for i in range(rows):
            p, k = divmod(i, 4)
            row = {"problem_id": f"p{p}", "index": k, "source": ("numina", "apps", "aops")[p % 3],
                   "question": f"Problem {p}: find $x$ with $x^2 = {p}$.", "answer": str(p),
                   "response": f"<|begin_of_thought|>{filler}<|end_of_thought|><|begin_of_solution|>"
                               f"$\\boxed{{{p}}}$<|end_of_solution|>",
                   "correct": k != 3, "extracted": str(p), "reason": "match" if k != 3 else "wrong_answer",
                   "finish_reason": "stop", "usage": {"completion_tokens": chars // 4}}
            if k == 3:
                why = {"drop_reason": "incorrect:wrong_answer", "dropped_at": "select"}
                dropped.write(json.dumps({**row, **why}) + "\n")
            else:
                kept.write(json.dumps(row) + "\n")
    (run / "curate" / "manifest.json").write_text("{}")


def _browser(index: Path) -> None:
    from browser import Browser, chromium

    if chromium() is None:
        print("browser: chromium not installed, skipped")
        return
    with Browser() as b:
        b.open("about:blank")  # the browser's own start-up (about 2 s here) is not the viewer's
        t = time.time()
        page = b.open(index.as_uri())
        page.wait("document.body.dataset.ready === '1'", timeout=120)
        status = page.eval("document.getElementById('status').textContent")
        print(f"browser: first page of 25 problems shown in {time.time() - t:.2f} s, "
              f"{page.eval('performance.now()') / 1000:.2f} s after navigation started ({status})")
        t = time.time()
        page.eval("(() => { const q = document.getElementById('q'); q.value = 'no such text anywhere'; "
                  "q.dispatchEvent(new Event('input')); })()")
        page.wait("document.getElementById('status').textContent === 'no problem matches'", timeout=600)
        print(f"browser: a search that reads every chunk took {time.time() - t:.2f} s (250 ms of it is the "
              "typing debounce)")
        t = time.time()
        page.eval("(() => { const s = document.getElementById('source'); s.value = 'aops'; "
                  "s.dispatchEvent(new Event('change')); const q = document.getElementById('q'); q.value = ''; "
                  "q.dispatchEvent(new Event('input')); })()")
        page.wait("document.getElementById('status').textContent.startsWith('problems 1-25')", timeout=120)
        print(f"browser: filter by source after that (chunks cached) took {time.time() - t:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--chars", type=int, default=1500)
    ap.add_argument("--keep", type=Path, default=None, help="write the run here and keep it")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skyt1-viewer-"))
    run = args.keep or tmp / "run"
    try:
        _write_run(run, args.rows, args.chars)
        t = time.time()
        index = build_viewer(run, run / "report" / "viewer")
        built = time.time() - t
        data = run / "report" / "viewer" / "data"
        chunks = [p for p in data.rglob("*.js") if p.name != "index.js"]
        sizes = sorted(p.stat().st_size for p in chunks)
        print(f"{args.rows} rows ({args.chars} characters a trace): viewer built in {built:.1f} s; "
              f"{len(chunks)} chunks, largest {sizes[-1] / 1e6:.2f} MB, median {sizes[len(sizes) // 2] / 1e6:.2f} MB, "
              f"all {sum(sizes) / 1e6:.0f} MB; index.js {(data / 'index.js').stat().st_size / 1e3:.0f} kB")
        _browser(index)
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

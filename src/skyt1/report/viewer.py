"""A static trace viewer for a run: ``report/viewer/index.html``, opened from disk, offline, no server.

It lists problems with their samples: verdict, the verifier's reason, the extracted and gold
answers, tokens, and whether curation kept each sample or dropped it and why (the step, the
reason, the duplicate's id, the benchmark item it matched). Views: the teacher's traces (from
``curate`` when finished: its kept ``records.jsonl`` and ``dropped.jsonl``; else the latest of
``rewrite``, ``score``, ``generate``) and every evaluation (``evaluate/<label>/<task>/score``).
Problems are filterable by source (a row's ``source``, else its ``task``), verdict, reason and
fate, and searchable; thought and solution sections (Sky-T1's ``<|begin_of_thought|>`` ...
markers, or ``<think>``) are set apart; math is rendered by KaTeX, bundled under ``assets/katex``.

Speed at 100k rows: problems go into chunk files of at most ``CHUNK_PROBLEMS`` problems or
``CHUNK_BYTES`` bytes, one source per chunk, each a script that registers its rows
(``SkyView.chunk(...)``): a ``file://`` page may load scripts but not ``fetch`` JSON. The page
loads chunks only as it needs them to fill the current page of results; the index holds each
chunk's facet counts, so a filter skips chunks that cannot match without loading them.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

from skyt1.report.data import load_json

__all__ = ["CHUNK_BYTES", "CHUNK_PROBLEMS", "build_viewer", "trace_rows"]

CHUNK_PROBLEMS = 200
CHUNK_BYTES = 1_500_000
ASSETS = Path(__file__).parent / "assets"


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn tail of an unfinished stage: the viewer shows what is whole
        if isinstance(row, dict) and "problem_id" in row:
            out.append(row)
    return out


def trace_rows(run: Path) -> list[dict]:
    """The teacher's samples, each with its fate: curation's kept and dropped rows when curation
    finished (``_fate`` = ``kept`` / ``dropped``), else the rows of the latest finished stage."""
    cu = run / "curate"
    if (cu / "manifest.json").is_file():
        return [{**r, "_fate": "kept"} for r in _jsonl(cu / "records.jsonl")] + \
               [{**r, "_fate": "dropped"} for r in _jsonl(cu / "dropped.jsonl")]
    for name in ("rewrite", "score", "generate"):
        rows = _jsonl(run / name / "records.jsonl")
        if rows:
            return rows
    return []


def _head(reason) -> str:
    return str(reason).split(":", 1)[0].strip() if reason not in (None, "") else ""


def _why(r: dict) -> str:
    """Why curation dropped a row, in words, with what it matched."""
    reason = str(r.get("drop_reason") or "")
    at = r.get("dropped_at") or ""
    kind, _, rest = reason.partition(":")
    if kind in ("duplicate_of", "near_duplicate_of"):
        text = f"{kind.replace('_', ' ')} {rest}" + (f" (Jaccard {r['drop_detail']})" if r.get("drop_detail") else "")
    elif kind == "contaminated" and isinstance(r.get("contamination"), dict):
        c = r["contamination"]
        text = f"contaminated: {c.get('benchmark', rest)} item {c.get('id', '?')} ({c.get('method', '?')}" + \
            (f", overlap {c['overlap']})" if c.get("overlap") is not None else ")")
    else:
        text = reason
    return f"{at}: {text}" if at else text


def _sample(r: dict) -> dict:
    correct = r.get("correct")
    s = {"i": r.get("index", 0), "text": r.get("response") or "",
         "verdict": "unscored" if correct is None else ("correct" if correct else "wrong"),
         "reason": "" if r.get("reason") is None else str(r["reason"]), "extracted": r.get("extracted"),
         "finish": r.get("finish_reason") or "", "tokens": (r.get("usage") or {}).get("completion_tokens"),
         "fate": r.get("_fate", "")}
    if r.get("formatted") and r.get("formatted") != s["text"]:
        s["formatted"] = r["formatted"]
    if s["fate"] == "dropped":
        s["why"] = _why(r)
        s["drop"] = _head(r.get("drop_reason"))
        m = re.match(r"(?:near_)?duplicate_of:(.+)", str(r.get("drop_reason") or ""))
        if m:
            s["of"] = m.group(1)
    return s


def _problems(rows: list[dict]) -> list[dict]:
    """Rows grouped by problem (first-seen order), samples by index."""
    out: dict[str, dict] = {}
    for r in rows:
        pid = str(r["problem_id"])
        p = out.get(pid)
        if p is None:
            gold = r.get("answer")
            p = out[pid] = {"id": pid, "source": str(r.get("source") or r.get("task") or pid.split("/")[0]),
                            "question": str(r.get("question") or ""),
                            "gold": None if gold is None else str(gold), "samples": []}
        p["samples"].append(_sample(r))
    for p in out.values():
        p["samples"].sort(key=lambda s: (s["i"] if isinstance(s["i"], int) else 0))
        fates = {s["fate"] for s in p["samples"]}
        p["fate"] = "kept" if "kept" in fates else ("dropped" if "dropped" in fates else "")
    return list(out.values())


def _facets(p: dict) -> dict[str, set[str]]:
    return {"verdict": {s["verdict"] for s in p["samples"]},
            "reason": {_head(s["reason"]) or "(none)" for s in p["samples"]},
            "fate": {("dropped: " + s["drop"]) if s["fate"] == "dropped" else s["fate"]
                     for s in p["samples"] if s["fate"]}}


def _write_view(key: str, problems: list[dict], out: Path) -> dict:
    """Chunk files of one view; returns its index entry."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", key)
    (out / slug).mkdir(parents=True, exist_ok=True)
    chunks, by_source = [], {}
    for p in problems:
        by_source.setdefault(p["source"], []).append(p)
    for source, ps in sorted(by_source.items()):
        texts = [json.dumps(p, ensure_ascii=False, separators=(",", ":")) for p in ps]  # each serialised once
        start = 0
        while start < len(ps):
            size, end = 0, start
            while end < len(ps) and end - start < CHUNK_PROBLEMS and (size < CHUNK_BYTES or end == start):
                size += len(texts[end])
                end += 1
            n = len(chunks)
            name = f"{slug}/{n:05d}.js"
            (out / name).write_text(f"SkyView.chunk({json.dumps(key)},{n},[{','.join(texts[start:end])}]);\n",
                                    encoding="utf-8")
            counts = {k: Counter() for k in ("verdict", "reason", "fate")}
            for p in ps[start:end]:
                for k, values in _facets(p).items():
                    counts[k].update(values)
            chunks.append({"file": name, "source": source, "n": end - start,
                           **{k: dict(c) for k, c in counts.items()}})
            start = end
    return {"key": key, "problems": len(problems), "samples": sum(len(p["samples"]) for p in problems),
            "chunks": chunks}


def build_viewer(run: Path, out: Path) -> Path | None:
    """Write the viewer under ``out`` (``report/viewer``); return its ``index.html``, or None when the
    run has no samples yet."""
    views = []
    traces = trace_rows(run)
    if traces:
        views.append(("teacher traces", _problems(traces)))
    for path in sorted(run.glob("evaluate/*/*/score/records.jsonl")):
        label, task = path.parts[-4], path.parts[-3]
        rows = _jsonl(path)
        if rows:
            views.append((f"evaluation: {label} / {task}", _problems(rows)))
    if not views:
        return None
    shutil.rmtree(out / "data", ignore_errors=True)  # chunks of an earlier build would outlive their data
    (out / "data").mkdir(parents=True)
    index = [_write_view(key, problems, out / "data") for key, problems in views]
    summary = load_json(run / "curate" / "summary.json") or {}
    (out / "data" / "index.js").write_text(
        "SkyView.index(" + json.dumps({"run": str(run), "views": index,
                                       "curation": summary.get("steps", [])}, ensure_ascii=False) + ");\n",
        encoding="utf-8")
    shutil.copytree(ASSETS / "katex", out / "assets" / "katex", dirs_exist_ok=True)
    for name in ("viewer.js", "viewer.css"):
        shutil.copyfile(ASSETS / name, out / "assets" / name)
    shutil.copyfile(ASSETS / "viewer.html", out / "index.html")
    return out / "index.html"

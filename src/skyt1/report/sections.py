"""Report sections beyond the scores: training curves, base against trained by problem, and the
planned cost beside what the ledgers measured. Each returns Markdown lines (and writes its charts)."""

from __future__ import annotations

import statistics
from pathlib import Path

from skyt1.report import data

__all__ = ["KATEX_HEAD", "comparison", "mixture", "plan_vs_measured", "training", "viewer_link"]

#: report.html renders the math of its problem lists with the viewer's bundled KaTeX (offline)
KATEX_HEAD = (
    '<link rel="stylesheet" href="viewer/assets/katex/katex.min.css">'
    '<script defer src="viewer/assets/katex/katex.min.js"></script>'
    '<script defer src="viewer/assets/katex/contrib/auto-render.min.js"></script>'
    "<script>addEventListener('DOMContentLoaded',()=>document.querySelectorAll('li').forEach(e=>"
    "renderMathInElement(e,{delimiters:[{left:'$$',right:'$$',display:true},{left:'$',right:'$',display:false},"
    "{left:'\\\\(',right:'\\\\)',display:false}],throwOnError:false})))</script>")

_TRAINING_NOTE = (
    "From `<stage>/log_history*.jsonl` (one file per rank, written at every logging step): loss (mean over "
    "ranks), learning rate, gradient norm, and each rank's non-padding input tokens per second.")
_PAIRED_NOTE = (
    "Paired by problem, on the problems both models answered. A problem is solved when more than half its samples "
    "are correct. *Fixed*: solved only after training; *broke*: solved only before. McNemar: the exact two-sided "
    "test on fixed against broke. The difference is in accuracy (avg@n), with a 95% paired bootstrap interval over "
    "problems (10,000 resamples, seeded).")


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def training(run: Path, out: Path) -> tuple[list[str], list[str]]:
    """The curves of the ``train`` and ``preference`` stages that logged any step."""
    from skyt1.report.charts import training_chart
    from skyt1.stages.metrics_log import read_log_history

    md, charts = [], []
    for stage in ("train", "preference"):
        rows = [r for r in read_log_history(run / stage) if "loss" in r]
        if not rows:
            continue
        chart = training_chart(stage, rows, out)
        ranks = sorted({int(r.get("rank", 0)) for r in rows})
        first = [r for r in rows if int(r.get("rank", 0)) == ranks[0]]
        if not md:
            md += ["## Training", "", _TRAINING_NOTE, "",
                   ("| stage | steps | loss first -> last | last learning rate | last gradient norm "
                    "| tokens/s by rank |"),
                   "|---|---|---|---|---|---|"]
        tps = ", ".join(f"{rank}: {statistics.fmean(v):,.1f}" for rank in ranks
                        if (v := [r["tokens_per_second"] for r in rows
                                  if int(r.get("rank", 0)) == rank and r.get("tokens_per_second")]))
        last = first[-1]
        lr, norm = (f"{last[k]:.3g}" if last.get(k) is not None else "n/a" for k in ("learning_rate", "grad_norm"))
        md.append(f"| {stage} | {last['step']} | {first[0]['loss']:.4g} -> {last['loss']:.4g} | {lr} | {norm} | "
                  f"{tps or 'n/a'} |")
        charts.append(chart)
    if md:
        md += [""] + [f"![{c}]({c})" for c in charts] + [""]
    return md, charts


def _verdicts(run: Path, label: str, task: str) -> list[dict]:
    from skyt1.report.viewer import _jsonl

    return _jsonl(run / "evaluate" / label / task / "score" / "records.jsonl")


def _snippet(text: str) -> str:
    return text[:90].replace("|", "/").replace("\n", " ")  # one line, inside a Markdown list item


def _in_viewer(pid: str, label: str, task: str, viewer: str | None) -> str:
    """A problem id, linked to it in the trace viewer (``#view=...&q=...``) when there is one."""
    from urllib.parse import quote

    if viewer is None:
        return f"`{pid}`"
    return f"[{pid}]({viewer}#view={quote(f'evaluation: {label} / {task}', safe='')}&q={quote(pid, safe='')})"


def comparison(run: Path, results: list[dict], limit: int = 20, viewer: str | None = None) -> list[str]:
    """Base against every other evaluated model, task by task, for results that are shown; problem
    ids link into the trace viewer at ``viewer`` (a path relative to the report)."""
    from skyt1.metrics import paired_comparison

    shown = {(r["label"], r["task"]) for r in results}
    pairs = sorted((label, task) for label, task in shown if label != "base" and ("base", task) in shown)
    if not pairs:
        return []
    md = ["## Base against trained, by problem", "", _PAIRED_NOTE, "",
          ("| task | models | problems | fixed | broke | both / neither solved | difference [95% paired bootstrap] | "
           "McNemar p |"), "|---|---|---|---|---|---|---|---|"]
    lists = []
    for label, task in pairs:
        base, other = _verdicts(run, "base", task), _verdicts(run, label, task)
        c = paired_comparison(base, other)
        ci = c["difference_ci95"]
        diff = "n/a" if c["difference"] is None else f"{100 * c['difference']:+.1f} pts [{100 * ci[0]:+.1f}, " \
            f"{100 * ci[1]:+.1f}]"
        md.append(f"| {task} | base -> {label} | {c['n_problems']} | {len(c['fixed'])} | {len(c['broke'])} | "
                  f"{c['both_solved']} / {c['neither_solved']} | {diff} | {c['mcnemar_p']:.3g} |")
        questions = {str(v["problem_id"]): str(v.get("question") or "") for v in base}
        for kind in ("fixed", "broke"):
            if c[kind]:
                where = label if kind == "fixed" else "base"  # the model that solved it
                items = [f"{_in_viewer(p, where, task, viewer)} {_snippet(questions.get(p, ''))}"
                         for p in c[kind][:limit]]
                more = f" (and {len(c[kind]) - limit} more)" if len(c[kind]) > limit else ""
                lists += [f"{task}, {label}: {kind} {len(c[kind])}{more}:", ""] + [f"- {i}" for i in items] + [""]
    return md + [""] + lists


def _measured_by_line(run: Path) -> dict[str, dict]:
    """Measured ledger totals keyed like plan lines: the top stages, and ``evaluate <label> <task>``."""
    from skyt1.cost import sum_ledgers

    groups: dict[str, list[dict]] = {}
    for path, (_, manifest) in data.stage_statuses(run).items():
        if not manifest or not manifest.get("cost"):
            continue
        parts = path.split("/")
        key = f"evaluate {parts[1]} {parts[2]}" if parts[0] == "evaluate" and len(parts) > 2 else parts[0]
        groups.setdefault(key, []).append(manifest["cost"])
    return {k: sum_ledgers(v) for k, v in groups.items()}


def plan_vs_measured(run: Path, plan: list[dict]) -> list[str]:
    """The plan's lines (``skyt1.cost_plan``) beside what this run's ledgers measured."""
    measured = _measured_by_line(run)
    md = ["## Planned and measured cost", "",
          ("Planned before the run (`skyt1 cost`, each line with its assumption) beside the stage ledgers. "
           "Planned token counts of generation are upper bounds unless measured."), "",
          ("| stage | what | planned $ | measured $ | planned GPU h | measured GPU h | planned CPU h | measured CPU h "
           "| assumption |"), "|---|---|---|---|---|---|---|---|---|"]

    def f(x, p=4):
        return "?" if x is None else f"{x:.{p}f}"

    for line in plan:
        key = line["stage"]
        if key == "evaluate":
            label, task = line["what"].split(" on ", 1)
            key = f"evaluate {label} {task.split(':')[0]}"
        if key == "total":
            m = {"usd": {"total": sum(v["usd"]["total"] for v in measured.values())},
                 "gpu_seconds": sum(v["gpu_seconds"] for v in measured.values()),
                 "cpu_seconds": sum(v["cpu_seconds"] for v in measured.values())}
        else:
            m = measured.get(key)
        got = (m["usd"]["total"], m["gpu_seconds"] / 3600, m["cpu_seconds"] / 3600) if m else (None, None, None)
        md.append(f"| {line['stage']} | {line['what']} | {f(line['usd'])} | {f(got[0])} | {f(line['gpu_hours'], 3)} | "
                  f"{f(got[1], 3)} | {f(line['cpu_hours'], 3)} | {f(got[2], 3)} | {line['assumption']} |")
    return md + [""]


def viewer_link(index: Path | None, out: Path) -> list[str]:
    if index is None:
        return []
    rel = index.relative_to(out).as_posix()
    return ["## Traces", "", ("Every sample, its verdict and why curation kept or dropped it: "
                             f"[the trace viewer]({rel}) (a static page: opens from disk, offline)."), ""]


def mixture(run: Path) -> list[str]:
    """Per source of a finished ``generate``: problems available, left by each filter, the quota,
    problems asked, samples and tokens (its summary's ``by_source``)."""
    if data.stage_statuses(run).get("generate", ("",))[0] != "finished":
        return []
    by = (data.load_json(run / "generate" / "summary.json") or {}).get("by_source") or {}
    if not by:
        return []
    md = ["## Mixture", "", "| source | available | after filters | quota | problems | samples | tokens | truncated |",
          "|---|---|---|---|---|---|---|---|"]
    for name, c in by.items():
        after = ", ".join(f"{k} {n}" for k, n in (c.get("after_filters") or {}).items()) or "-"
        quota = c.get("quota") if c.get("quota") is not None else "-"
        md.append(f"| {name} | {c.get('available', '-')} | {after} | {quota} | {c['problems']} | {c['samples']} | "
                  f"{c['completion_tokens']} | {c['truncated']} |")
    return md + [""]

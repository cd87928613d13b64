"""report: one Markdown and one HTML page for a run, with PNG charts and a cost table.

Everything shown is read from the run directory (stage summaries, manifests, ``result.json``
and ``scaling.json`` files; ``report/data.py`` says when a result counts), so a report can be
rebuilt at any time and shows only what was measured. It has: accuracy per task with its 95%
interval beside it and the published scores for the same benchmark in the same table
(``skyt1.published``); the macro average over tasks per model; token statistics; test-time
scaling points (budget forcing, self-consistency); the sampling settings, prompts and grader
behind every number; stage statuses; and the cost. An unfinished stage is listed as
unfinished, never as a result.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from skyt1.cost import sum_ledgers
from skyt1.report import data, sections
from skyt1.report.charts import accuracy_chart, scaling_chart, tokens_chart
from skyt1.report.html import markdown_to_html
from skyt1.report.viewer import build_viewer

__all__ = ["build_report", "markdown_to_html"]


_ACCURACY_NOTE = (
    "Accuracy is the mean over problems of each problem's fraction of correct samples (pass@1 averaged over n); "
    "the 95% interval (in brackets) is the Wilson score interval over problems, which holds on small benchmarks "
    "and near 0% or 100%. Published scores are as printed by their source, on the "
    "full benchmark."
)
_MACRO_NOTE = (
    "Macro average over the tasks each model was evaluated on (every task weighs the same); the interval "
    "combines the tasks' standard errors as independent (Wilson, at the effective number of problems)."
)
_SCALING_NOTE = (
    "Budget forcing (s1, arXiv:2501.19393): the thinking is capped at a token budget and the answer forced; "
    "\"Wait\" is appended when the model stops thinking early (up to the wait count). Self-consistency: majority "
    "vote (maj@n) over n samples. Tokens are completion tokens per final answer (all n votes for self-consistency)."
)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _score(acc: float | None, ci: list[float] | None, bold: bool = True) -> str:
    if acc is None:
        return "n/a"
    main = f"**{_pct(acc)}**" if bold else _pct(acc)
    return main + (f" [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else "")


def _mean_tokens(r: dict, kind: str = "all") -> str:
    v = r["completion_tokens"][kind]["mean"]
    return "n/a" if v is None else f"{v:.1f}"


def _published(tasks: list[str]) -> dict[str, list[dict]]:
    from skyt1.published import published

    return {t: published(t) for t in tasks}


def _link(source: str) -> str:
    return f"[source]({source})" if source.startswith(("http://", "https://")) else source


def _evaluation(results: list[dict], published: dict[str, list[dict]]) -> list[str]:
    md = ["## Evaluation", "", _ACCURACY_NOTE, "", "### Per task", "",
          "| task | model | split | problems | samples | accuracy [95% interval] | pass@k | maj@n | mean tokens | truncated |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for task in sorted({r["task"] for r in results}):
        for r in (r for r in results if r["task"] == task):
            passk = ", ".join(f"{k}: {_pct(v)}" for k, v in r.items() if k.startswith("pass@")) or "n/a"
            md.append(f"| {task} | {r['label']} (`{r['model']}`) | {r['split']} | {r['n_problems']} | {r['n_samples']} | "
                      f"{_score(r['accuracy'], r['ci95'])} | {passk} | {_pct(r.get('maj@n'))} | {_mean_tokens(r)} | "
                      f"{r['truncated']['n']} |")
        for p in published.get(task, []):
            md.append(f"| {task} | *{p['model']}* (published, {_link(p['source'])}) | full | | | {p['score']:.1f}% | | | | |")
    md += ["", "### Overall", "", _MACRO_NOTE, "",
           "| model | tasks | macro accuracy [95% interval] |", "|---|---|---|"]
    for label in sorted({r["label"] for r in results}):
        mine = [r for r in results if r["label"] == label and r["accuracy"] is not None]
        if not mine:
            continue
        stderrs = [r["stderr"] for r in mine] if all(r.get("stderr") is not None for r in mine) else None
        avg = data.macro_average([r["accuracy"] for r in mine], stderrs, [r["n_problems"] for r in mine])
        md.append(f"| {label} | {', '.join(r['task'] for r in mine)} | {_score(avg['accuracy'], avg['ci95'])} |")
        tasks = [r["task"] for r in mine]
        for model in sorted({p["model"] for t in tasks for p in published.get(t, [])}):
            scores = [next((p["score"] for p in published.get(t, []) if p["model"] == model), None) for t in tasks]
            if all(s is not None for s in scores):
                md.append(f"| *{model}* (published, same tasks) | {', '.join(tasks)} | "
                          f"{sum(scores) / len(scores):.1f}% |")
    return md


def _tokens(results: list[dict]) -> list[str]:
    md = ["### Tokens", "", "| task | model | mean tokens | median | mean if correct | mean if wrong | truncated |",
          "|---|---|---|---|---|---|---|"]
    for r in results:
        med = r["completion_tokens"]["all"]["median"]
        md.append(f"| {r['task']} | {r['label']} | {_mean_tokens(r)} | {'n/a' if med is None else f'{med:.0f}'} | "
                  f"{_mean_tokens(r, 'correct')} | {_mean_tokens(r, 'incorrect')} | "
                  f"{r['truncated']['n']} ({_pct(r['truncated']['fraction'])}) |")
    return md


def _breakdowns(results: list[dict]) -> list[str]:
    """Accuracy by difficulty, level or subject, where the task's problems carry them."""
    rows = [(r, key, value, cell) for r in results for key, groups in (r.get("by") or {}).items()
            for value, cell in groups.items()]
    if not rows:
        return []
    md = ["### Breakdowns", "", "| task | model | by | value | problems | accuracy |", "|---|---|---|---|---|---|"]
    for r, key, value, cell in rows:
        md.append(f"| {r['task']} | {r['label']} | {key} | {value} | {cell['n']} | {_pct(cell['accuracy'])} |")
    return md + [""]


def _scaling(points: list[dict]) -> list[str]:
    md = ["## Test-time scaling", "", _SCALING_NOTE, "",
          "| task | model | method | setting | tokens per answer | accuracy [95% interval] | problems |", "|---|---|---|---|---|---|---|"]
    for p in sorted(points, key=lambda p: (p["task"], p["label"], p["method"], p["tokens"] or 0)):
        if p["method"] == "budget_forcing":
            setting = f"budget {p['max_thinking_tokens']}, wait x{p['wait_times']}"
        else:
            setting = f"maj@{p['n']}, T={p.get('temperature')}"
        tokens = "n/a" if p["tokens"] is None else f"{p['tokens']:.1f}"
        md.append(f"| {p['task']} | {p['label']} | {p['method'].replace('_', ' ')} | {setting} | {tokens} | "
                  f"{_score(p['accuracy'], p.get('ci95'), bold=False)} | {p['n_problems']} |")
    return md


def _settings(results: list[dict]) -> list[str]:
    md = ["### Settings", "", "The sampling settings, prompt and grader behind each number.", "",
          "| task | model | sampling | system prompt | grader |", "|---|---|---|---|---|"]
    for r in results:
        system = r.get("system_prompt")
        system = "none" if not system else f"{len(system)} characters"
        md.append(f"| {r['task']} | {r['label']} | `{json.dumps(r['sampling'])}` | {system} | `{json.dumps(r['grader'])}` |")
    for task, prompt in sorted({(r["task"], r["prompt"]) for r in results if isinstance(r.get("prompt"), str)}):
        md += ["", f"Prompt template of {task}:", "", "~~~", prompt, "~~~"]  # ~~~: templates may hold ``` fences
    return md


def _brief(name: str, s: dict | None) -> str:
    if not s:
        return ""
    if name == "generate":
        return f"{s['samples']} samples of {s['problems']} problems by `{s['model']}`, {s['completion_tokens']} tokens"
    if name == "score":
        return f"accuracy {_pct(s['accuracy'])} over {s['n_samples']} samples"
    if name == "rewrite":
        return f"{s['mode']}: {s['status']}"
    if name == "curate":
        steps = "; ".join(f"{st['step']} {st['in']}->{st['kept']}" for st in s["steps"])
        return f"kept {s['kept']} traces of {s['problems']} problems ({steps})"
    if name == "train":
        return (f"{s['method']} on {s['examples']} examples x {s['epochs']} epochs, {s['steps']} steps, "
                f"loss {s['train_loss']}, {s['tokens_per_second']} tokens/s")
    return ""


def _curation(run: Path, out: Path) -> list[str]:
    """Counts in, kept and dropped by reason at every curation step, and the token histogram."""
    if data.stage_statuses(run).get("curate", ("",))[0] != "finished":
        return []
    s = data.load_json(run / "curate" / "summary.json")
    md = ["## Curation", "", f"Kept {s['kept']} traces of {s['problems']} problems; every dropped row, with its reason "
          "and what it matched, is in `curate/dropped.jsonl`.", "",
          "| step | in | kept | dropped, by reason |", "|---|---|---|---|"]
    for st in s["steps"]:
        dropped = ", ".join(f"{reason} {n}" for reason, n in sorted(st["dropped"].items())) or "none"
        md.append(f"| {st['step']} | {st['in']} | {st['kept']} | {dropped} |")
    name = Path(str((s.get("histograms") or {}).get("token_lengths", ""))).name
    histogram = run / "curate" / name  # wherever the run directory has moved since
    if name and histogram.is_file():
        shutil.copyfile(histogram, out / "curate_token_lengths.png")  # the report stays self-contained
        md += ["", "![curate_token_lengths.png](curate_token_lengths.png)"]
    return md + [""]


def _stages_and_cost(run: Path, prices: dict | None) -> list[str]:
    stages = data.stage_statuses(run)
    md = ["## Stages", "", "| stage | status | summary |", "|---|---|---|"]
    for path, (status, _) in stages.items():
        kind = path.rsplit("/", 1)[-1]
        brief = ""
        if status == "finished":
            try:
                brief = _brief(kind, data.load_json(run / path / "summary.json"))
            except (KeyError, TypeError):
                brief = ""
        md.append(f"| {path} | {status if status == 'finished' else '**unfinished**'} | {brief} |")
    ledgers = [(p, m["cost"]) for p, (_, m) in stages.items() if m and m.get("cost")]
    total = sum_ledgers([c for _, c in ledgers])
    md += ["", "## Cost", "", "| stage | wall s | CPU s | GPU s | tokens in | tokens out | $ |", "|---|---|---|---|---|---|---|"]
    for path, c in ledgers:
        tries = f" ({c['attempts']} attempts)" if c.get("attempts", 1) > 1 else ""  # a crash and its resume
        md.append(f"| {path}{tries} | {c['wall_seconds']:.1f} | {c['cpu_seconds']:.1f} | {c['gpu_seconds']:.1f} | "
                  f"{c['prompt_tokens']} | {c['completion_tokens']} | {c['usd']['total']:.4f} |")
    md.append(f"| **total** | {total['wall_seconds']:.1f} | {total['cpu_seconds']:.1f} | {total['gpu_seconds']:.1f} | "
              f"{total['prompt_tokens']} | {total['completion_tokens']} | **{total['usd']['total']:.4f}** |")
    if prices:
        md += ["", f"Prices: `{json.dumps(prices)}`."]
    return md


def build_report(run: Path, title: str = "skyt1 run", prices: dict | None = None, recipe=None) -> dict[str, Path]:
    """Write ``report/report.md``, ``report/report.html``, the charts and the trace viewer
    (``report/viewer/index.html``) for the run in ``run``; return their paths (``markdown``,
    ``html``, ``viewer`` when the run has samples, and one entry per chart file name). With the
    ``recipe`` the run was made from, its planned cost (``skyt1.cost_plan``) sits beside the ledgers."""
    run = Path(run)
    out = run / "report"
    out.mkdir(parents=True, exist_ok=True)
    results = data.results(run)
    points = data.scaling_points(run)
    published = _published(sorted({r["task"] for r in results}))
    for stale in ("accuracy.png", "tokens.png", "scaling.png", "curate_token_lengths.png", "train_curves.png",
                  "preference_curves.png"):
        (out / stale).unlink(missing_ok=True)  # a chart of an earlier report would outlive its data
    charts = [c for c in (accuracy_chart(results, published, out), tokens_chart(results, out)) if c]
    scaling = scaling_chart(points, out)
    md = [f"# {title}", "", f"Run directory: `{run}`", ""]
    viewer = build_viewer(run, out / "viewer")
    md += sections.viewer_link(viewer, out)
    if results:
        md += _evaluation(results, published) + ["", *[f"![{c}]({c})" for c in charts], ""]
        md += sections.comparison(run, results, viewer=viewer and viewer.relative_to(out).as_posix())
        md += _tokens(results) + [""] + _breakdowns(results) + _settings(results) + [""]
    else:
        md += ["## Evaluation", "", "No finished evaluation in this run.", ""]
    pending = data.unfinished_evaluations(run, results)
    if pending:
        md += ["Unfinished evaluations (no result shown): " + ", ".join(f"`{p}`" for p in pending) + ".", ""]
    if points:
        md += _scaling(points) + ["", *([f"![{scaling}]({scaling})"] if scaling else []), ""]
    md += sections.mixture(run) + _curation(run, out)
    curves, curve_charts = sections.training(run, out)
    md += curves
    md += _stages_and_cost(run, prices)
    if recipe is not None:
        from skyt1.cost_plan import recipe_plan_cost

        md += ["", *sections.plan_vs_measured(run, recipe_plan_cost(recipe))]
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text, encoding="utf-8")
    (out / "report.html").write_text(markdown_to_html(title, text, head=sections.KATEX_HEAD if viewer else ""),
                                     encoding="utf-8")
    files = charts + ([scaling] if scaling else []) + curve_charts
    extra = {"viewer": viewer} if viewer else {}
    return {"markdown": out / "report.md", "html": out / "report.html", **extra, **{c: out / c for c in files}}

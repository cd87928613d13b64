"""PNG charts for the report (matplotlib, Agg backend, imported lazily).

- ``accuracy.png``: accuracy per task, one bar per evaluated model with its 95% interval, and
  the published scores for that task as hatched bars (no interval is published);
- ``tokens.png``: mean completion tokens per answer, overall and for correct / wrong answers;
- ``scaling.png``: accuracy against tokens spent per final answer, one panel per task, one line
  per model and method (budget forcing: one point per thinking budget; self-consistency: one per vote size).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["accuracy_chart", "scaling_chart", "tokens_chart", "training_chart"]

_COLORS = ("#66c2a5", "#8da0cb", "#fc8d62", "#e78ac3", "#a6d854", "#ffd92f", "#e5c494", "#b3b3b3")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _err(r: dict) -> tuple[float, float]:
    if r.get("ci95") is None or r.get("accuracy") is None:
        return 0.0, 0.0
    return 100 * (r["accuracy"] - r["ci95"][0]), 100 * (r["ci95"][1] - r["accuracy"])


def accuracy_chart(results: list[dict], published: dict[str, list[dict]], out: Path) -> str | None:
    """``published`` maps a task to its published rows (``model``, ``score`` in percent)."""
    if not results:
        return None
    plt = _plt()
    tasks = sorted({r["task"] for r in results})
    labels = sorted({r["label"] for r in results})
    pub_models = sorted({p["model"] for t in tasks for p in published.get(t, [])})
    series = labels + pub_models
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(tasks) * max(1, len(series)) ** 0.5), 4.2))
    for j, name in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for i, task in enumerate(tasks):
            if name in labels:
                r = next((r for r in results if r["task"] == task and r["label"] == name), None)
                if r is None or r.get("accuracy") is None:
                    continue
                y, (e0, e1) = 100 * r["accuracy"], _err(r)
            else:
                p = next((p for p in published.get(task, []) if p["model"] == name), None)
                if p is None:
                    continue
                y, e0, e1 = float(p["score"]), 0.0, 0.0
            xs.append(i - 0.4 + width * (j + 0.5))
            ys.append(y)
            lo.append(e0)
            hi.append(e1)
        if not xs:
            continue
        own = name in labels
        ax.bar(xs, ys, width, yerr=[lo, hi] if own else None, capsize=4, label=name if own else f"{name} (published)",
               color=_COLORS[j % len(_COLORS)], hatch=None if own else "//", edgecolor="#444" if not own else None)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%), 95% interval")
    ax.set_title("Accuracy per task")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(out / "accuracy.png", dpi=110)
    plt.close(fig)
    return "accuracy.png"


def tokens_chart(results: list[dict], out: Path) -> str | None:
    if not results:
        return None
    plt = _plt()
    names = [f"{r['label']}\n{r['task']}" for r in results]
    kinds = ("all", "correct", "incorrect")
    width = 0.8 / len(kinds)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(results)), 4))
    for j, kind in enumerate(kinds):
        ys = [(r["completion_tokens"][kind]["mean"] or 0.0) for r in results]
        ax.bar([i - 0.4 + width * (j + 0.5) for i in range(len(results))], ys, width, label=kind,
               color=_COLORS[j])
    ax.set_xticks(range(len(results)), names, fontsize=8)
    ax.set_ylabel("completion tokens per answer (mean)")
    ax.set_title("Tokens per answer")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "tokens.png", dpi=110)
    plt.close(fig)
    return "tokens.png"


def scaling_chart(points: list[dict], out: Path) -> str | None:
    points = [p for p in points if p.get("accuracy") is not None and p.get("tokens") is not None]
    if not points:
        return None
    plt = _plt()
    tasks = sorted({p["task"] for p in points})
    fig, axes = plt.subplots(1, len(tasks), figsize=(max(7.0, 5.0 * len(tasks)), 4.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        lines: dict[tuple, list[dict]] = {}
        for p in (p for p in points if p["task"] == task):
            method = "budget forcing" if p["method"] == "budget_forcing" else "self-consistency"
            if p["method"] == "budget_forcing" and p.get("wait_times"):
                method += f" (wait x{p['wait_times']})"
            lines.setdefault((p["label"], method), []).append(p)
        for j, ((label, method), ps) in enumerate(sorted(lines.items())):
            ps = sorted(ps, key=lambda p: p["tokens"])
            xs = [p["tokens"] for p in ps]
            ys = [100 * p["accuracy"] for p in ps]
            err = [[_err(p)[0] for p in ps], [_err(p)[1] for p in ps]]
            ax.errorbar(xs, ys, yerr=err, marker="o" if "budget" in method else "s", capsize=3,
                        color=_COLORS[j % len(_COLORS)], label=f"{label}: {method}")
            for p, x, y in zip(ps, xs, ys):
                tag = str(p["max_thinking_tokens"]) if p["method"] == "budget_forcing" else f"n={p['n']}"
                ax.annotate(tag, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        tokens = [p["tokens"] for p in points if p["task"] == task]
        if max(tokens) > 4 * max(1.0, min(tokens)):
            ax.set_xscale("log", base=2)
        ax.set_ylim(0, 100)
        ax.set_xlabel("completion tokens per final answer (mean)")
        ax.set_ylabel("accuracy (%), 95% interval")
        ax.set_title(task)
        ax.legend(fontsize=7)
    fig.suptitle("Test-time scaling: accuracy against tokens spent")
    fig.tight_layout()
    fig.savefig(out / "scaling.png", dpi=110)
    plt.close(fig)
    return "scaling.png"


def training_chart(stage: str, rows: list[dict], out: Path) -> str | None:
    """``<stage>_curves.png``: loss, learning rate, gradient norm and tokens/s against optimizer
    step, from ``skyt1.stages.metrics_log`` rows; tokens/s has one line per rank and their sum."""
    steps = [r for r in rows if "loss" in r]
    if not steps:
        return None
    plt = _plt()
    ranks = sorted({int(r.get("rank", 0)) for r in steps})
    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5), squeeze=False)
    main = [r for r in steps if int(r.get("rank", 0)) == ranks[0]]
    for ax, key, label in ((axes[0][0], "loss", "training loss"), (axes[0][1], "learning_rate", "learning rate"),
                           (axes[1][0], "grad_norm", "gradient norm")):
        pts = [(r["step"], r[key]) for r in main if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), marker="." if len(pts) < 60 else None, color=_COLORS[1])
        ax.set_title(label)
        ax.set_xlabel("step")
    ax = axes[1][1]
    total: dict[int, float] = {}
    for j, rank in enumerate(ranks):
        pts = [(r["step"], r["tokens_per_second"]) for r in steps
               if int(r.get("rank", 0)) == rank and r.get("tokens_per_second") is not None]
        for s, v in pts:
            total[s] = total.get(s, 0.0) + v
        if pts:
            ax.plot(*zip(*pts), color=_COLORS[j % len(_COLORS)], label=f"rank {rank}", alpha=0.8)
    if len(ranks) > 1 and total:
        ax.plot(*zip(*sorted(total.items())), color="#333", label="all ranks", linewidth=2)
    ax.set_title("tokens/s (non-padding input tokens)")
    ax.set_xlabel("step")
    if ranks:
        ax.legend(fontsize=7)
    fig.suptitle(f"Training curves: {stage}")
    fig.tight_layout()
    name = f"{stage}_curves.png"
    fig.savefig(out / name, dpi=100)
    plt.close(fig)
    return name

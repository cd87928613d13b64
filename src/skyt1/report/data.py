"""What a report shows, read from a run directory: evaluation results that rest on finished
stages, scaling points, stage statuses and cost ledgers.

A result (``evaluate/<label>/<task>/result.json``) counts only when its ``generate`` and
``score`` stages are finished and, where the result records them, with the same config hashes
it was written from; anything else is listed as unfinished, never shown as a score.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = [
    "TOP_STAGES",
    "load_json",
    "macro_average",
    "results",
    "scaling_points",
    "stage_statuses",
    "unfinished_evaluations",
]

TOP_STAGES = ("generate", "score", "rewrite", "curate", "train")


def load_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except json.JSONDecodeError:
        return None  # a torn file is not a result


def _stages_finished(where: Path, hashes: dict | None) -> bool:
    for name in ("generate", "score"):
        manifest = load_json(where / name / "manifest.json")
        if manifest is None:
            return False
        if hashes and hashes.get(name) and manifest.get("config_hash") != hashes[name]:
            return False
    return True


def results(run: Path) -> list[dict]:
    """Main evaluation results whose stages are finished, ordered by task then model label."""
    out = []
    for path in sorted(run.glob("evaluate/*/*/result.json")):
        r = load_json(path)
        if r and _stages_finished(path.parent, r.get("stages")):
            out.append(r)
    return sorted(out, key=lambda r: (r["task"], r["label"]))


def scaling_points(run: Path) -> list[dict]:
    """The points of every ``scaling.json`` whose stages are finished (with the recorded config)."""
    out = []
    for path in sorted(run.glob("evaluate/*/*/scaling.json")):
        s = load_json(path)
        if not s:
            continue
        out += [{"label": s["label"], "task": s["task"], **p} for p in s.get("points", [])
                if _stages_finished(path.parent / p.get("dir", "."), p.get("stages"))]
    return out


def _status(stage_dir: Path) -> str:
    if (stage_dir / "manifest.json").is_file():
        return "finished"
    return "unfinished"


def _stage_order(rel: tuple[str, ...]) -> tuple:
    # per <label>/<task>: generate and score before budget/wait<k>/<N>/..., numbers in numeric order
    return (rel[:2], len(rel), [(0, int(x), "") if x.isdigit() else (1, 0, x) for x in rel])


def stage_statuses(run: Path) -> dict[str, tuple[str, dict | None]]:
    """``{stage path relative to run: (status, manifest or None)}`` for the recipe's stages and
    every stage directory under ``evaluate/`` (one holding a ``config.json`` or a manifest)."""
    found: dict[str, tuple[str, dict | None]] = {}
    for name in TOP_STAGES:
        if (run / name).is_dir():
            found[name] = (_status(run / name), load_json(run / name / "manifest.json"))
    ev = run / "evaluate"
    if ev.is_dir():
        dirs = {p.parent for pat in ("config.json", "manifest.json") for p in ev.rglob(pat)}
        for d in sorted(dirs, key=lambda d: _stage_order(d.relative_to(ev).parts)):
            found["/".join(d.relative_to(run).parts)] = (_status(d), load_json(d / "manifest.json"))
    return found


def unfinished_evaluations(run: Path, shown: list[dict]) -> list[str]:
    """``label/task`` directories under ``evaluate/`` that have no result shown."""
    done = {(r["label"], r["task"]) for r in shown}
    out = []
    for d in sorted(run.glob("evaluate/*/*")):
        if d.is_dir() and (d.parent.name, d.name) not in done:
            out.append(f"{d.parent.name}/{d.name}")
    return out


def macro_average(accuracies: list[float], stderrs: list[float] | None = None,
                  n_problems: list[int] | None = None) -> dict:
    """The unweighted mean over tasks; its standard error treats the tasks' errors as independent:
    ``sqrt(sum se_i^2) / T``. The 95% interval is ``skyt1.metrics.wilson_interval`` at the
    effective sample size ``p (1 - p) / se^2`` (Korn & Graubard 1998, Survey Methodology 24:193),
    at most that of T equally weighted binomial means, ``T^2 / sum(1 / n_i)``, when the tasks'
    problem counts are given (so tasks all at 0% or 100% still get a non-empty interval)."""
    from skyt1.metrics import wilson_interval

    t = len(accuracies)
    mean = sum(accuracies) / t
    out = {"accuracy": mean, "tasks": t, "stderr": None, "ci95": None}
    if stderrs is not None:
        se = math.sqrt(sum(s * s for s in stderrs)) / t
        cap = t * t / sum(1 / max(n, 1) for n in n_problems) if n_problems else math.inf
        # one task: its own interval (Wilson at its problems), as in the per-task table
        n_eff = min(cap, mean * (1 - mean) / (se * se)) if se > 0 and not (t == 1 and n_problems) else cap
        out.update(stderr=se, ci95=None if math.isinf(n_eff) else wilson_interval(min(1.0, max(0.0, mean)), n_eff))
    return out

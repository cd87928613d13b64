"""The evaluation commands: evaluate (generate + score on benchmarks) and report."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer

from skyt1.backends import backend_help
from skyt1.cli import SetOpt, _guard, _json_object, _recipe, app


@app.command()
def evaluate(
    model: str = typer.Option("smollm2-135m-instruct", help="model path, hub id, API model, or the embedded model"),
    task: str = typer.Option("arithmetic", help="comma-separated tasks"),
    n: int = typer.Option(1, help="samples per problem"),
    limit: Optional[int] = typer.Option(None, help="first N problems of each task"),
    split: Optional[str] = typer.Option(None, help="split (default: each task's evaluation split)"),
    backend: str = typer.Option("transformers", help=backend_help()),
    temperature: float = typer.Option(0.0), top_p: float = typer.Option(1.0),
    max_tokens: int = typer.Option(512), system_prompt: Optional[str] = typer.Option(None, help="text, or 'sky-t1'"),
    run_dir: Path = typer.Option(Path("runs/eval"), help="where results go"),
    rescore: bool = typer.Option(False, help="re-score existing generations without generating again"),
    workers: int = typer.Option(2, help="verifier processes"),
    batch_size: int = typer.Option(32, help="requests per forward batch (local backends)"),
    backend_args: Optional[str] = typer.Option(None, "--backend-args",
                                               help='JSON backend args, e.g. \'{"base_url": "http://127.0.0.1:8000/v1"}\''),
    budget: Optional[str] = typer.Option(None, help="comma-separated thinking budgets: an s1 budget-forcing sweep"),
    wait_times: int = typer.Option(0, help="budget forcing: times to append 'Wait' when thinking ends early"),
    end_think: str = typer.Option("</think>", help="budget forcing: the end-of-thinking delimiter"),
    answer_prefix: Optional[str] = typer.Option(
        None, help="budget forcing: text that forces the answer (default '\\nFinal Answer:')"),
    answer_tokens: Optional[int] = typer.Option(
        None, help="budget forcing: answer token limit (default --max-tokens)"),
    sc: Optional[str] = typer.Option(None, help="comma-separated vote sizes: a self-consistency (maj@n) sweep"),
    sc_temperature: float = typer.Option(0.7, help="self-consistency: temperature of the votes"),
    write_report: bool = typer.Option(False, "--report", help="also write the run directory's report"),
) -> None:
    """Generate and score a model on benchmark tasks; results (with intervals) into the run store.

    Example: `skyt1 evaluate --model runs/tiny/train/model --task arithmetic,gsm8k --limit 50 --n 4 --temperature 0.7`

    Test-time scaling:
    `skyt1 evaluate --task math500 --limit 50 --budget 512,1024,2048 --wait-times 2 --sc 1,4,8 --report`
    """

    def go():
        spec = _model_spec(model, backend, system_prompt, batch_size, backend_args)
        cfg = _evaluate_config(task, split, limit, n, temperature, top_p, max_tokens,
                               budget, wait_times, end_think, answer_prefix, answer_tokens, sc, sc_temperature)
        _evaluate(model, spec, cfg, n, workers, run_dir, rescore, write_report)

    _guard(go)


def _model_spec(model, backend, system_prompt, batch_size, backend_args):
    """The ``ModelSpec`` of ``skyt1 evaluate``'s options (the embedded model runs on its own backend)."""
    from skyt1.backends.embedded import is_embedded
    from skyt1.config import ModelSpec

    args = _json_object("--backend-args", backend_args) if backend_args else {}
    return ModelSpec(backend="embedded" if is_embedded(model) else backend, model=model,
                     system_prompt=system_prompt, batch_size=batch_size, args=args)


def _evaluate_config(task, split, limit, n, temperature, top_p, max_tokens,
                     budget, wait_times, end_think, answer_prefix, answer_tokens, sc, sc_temperature):
    """The ``EvaluateConfig`` of ``skyt1 evaluate``'s options: tasks, sampling, and the test-time sweeps."""
    from skyt1.config import EvaluateConfig, Sampling

    bf = None
    if budget:
        bf = {"max_thinking_tokens": [int(b) for b in budget.split(",")], "wait_times": wait_times,
              "end_think": end_think, "answer_max_tokens": answer_tokens,
              **({"answer_prefix": answer_prefix} if answer_prefix is not None else {})}
    votes = {"n": [int(v) for v in sc.split(",")], "temperature": sc_temperature} if sc else None
    return EvaluateConfig(tasks=task.split(","), split=split, limit=limit,
                          sampling=Sampling(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens),
                          budget_forcing=bf, self_consistency=votes)


def _evaluate(model: str, spec, cfg, n: int, workers: int, run_dir: Path, rescore: bool, write_report: bool) -> None:
    """Run the evaluation; print one line per task (and per scaling point), then the JSON summary."""
    from skyt1.config import ScoreConfig
    from skyt1.stages.evaluate import evaluate as run_evaluate

    label = Path(model).name if os.path.exists(model) else model.replace("/", "_")
    res = run_evaluate({label: spec}, cfg, ScoreConfig(workers=workers, ks=sorted({1, n})), run_dir,
                       rescore=rescore, log=lambda m: typer.echo(m, err=True))
    for t, s in res[label].items():
        typer.echo(f"{label} {t}: accuracy {s['accuracy']:.4f} (95% CI {s['ci95'][0]:.4f}-{s['ci95'][1]:.4f}), "
                   f"{s['n_problems']} problems x {n}")
        for p in s.get("scaling", []):
            what = f"budget {p['max_thinking_tokens']}" if p["method"] == "budget_forcing" else f"maj@{p['n']}"
            typer.echo(f"  {what}: accuracy {p['accuracy']:.4f}, {p['tokens']:.1f} tokens per answer")
    if write_report:
        from skyt1.report import build_report

        paths = build_report(run_dir, title=f"skyt1 evaluate {label}")
        typer.echo(f"report: {paths['markdown']}  {paths['html']}", err=True)
    typer.echo(json.dumps({t: {k: v for k, v in s.items() if k in ("accuracy", "ci95", "maj@n", "n_problems")}
                           for t, s in res[label].items()}))


@app.command()
def report(run_dir: Path = typer.Argument(Path("runs/tiny"), help="run directory"),
           recipe: Optional[str] = typer.Option(None, help="the run's recipe: its planned cost beside the ledgers"),
           sets: Optional[list[str]] = SetOpt) -> None:
    """Write the Markdown/HTML report (charts, intervals, training curves, cost) and the trace viewer
    (`report/viewer/index.html`) for a run directory.

    Example: `skyt1 report runs/tiny --recipe tiny`
    """
    from skyt1.report import build_report

    r = _recipe(recipe, sets) if recipe else None
    paths = build_report(run_dir, prices=r.prices.model_dump() if r else None, recipe=r)
    typer.echo(f"report: {paths['markdown']}  {paths['html']}" + (f"  viewer: {paths['viewer']}" if "viewer" in paths
                                                                   else ""))

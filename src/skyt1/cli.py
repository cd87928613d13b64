"""The ``skyt1`` command line: one thin function per command; heavy imports stay inside them
so that ``skyt1 --help`` answers at once."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from skyt1.backends import backend_help
from skyt1.verifiers.registry import kinds_help

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
                  help="skyt1: the Sky-T1 recipe (teacher traces -> verified curation -> SFT -> evaluation) as software.")

RecipeArg = typer.Option(None, "--recipe", "-r", help="shipped recipe name or YAML path (default: tiny)")
SetOpt = typer.Option(None, "--set", "-s", help="override a recipe key: section.key=value (repeatable)")
ForceOpt = typer.Option(False, "--force", help="redo a finished stage")


def _fail(msg: str, code: int = 2) -> None:
    typer.secho(f"error: {msg}", fg="red", err=True)
    raise typer.Exit(code)


def _recipe(recipe: Optional[str], sets: Optional[list[str]], extra: list[str] = ()):
    from skyt1.config import ConfigError, load_recipe

    try:
        return load_recipe(recipe, list(sets or []) + list(extra))
    except ConfigError as e:
        _fail(str(e))


def _json_object(flag: str, text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        _fail(f"{flag}: invalid JSON ({e.msg} at column {e.colno})")
    if not isinstance(value, dict):
        _fail(f"{flag}: expected a JSON object, e.g. '{{\"tensor_parallel_size\": 8}}'")
    return value


def _guard(fn):
    """Run a stage, turning bad input into a clear one-line error (exit 2)."""
    from skyt1.launch import LaunchError
    from skyt1.records import RecordError, StageAlreadyDone

    try:
        return fn()
    except StageAlreadyDone as e:
        typer.echo(str(e))
        raise typer.Exit(0)
    except ImportError as e:  # an optional extra (vLLM, Ray) that is not installed
        _fail(str(e))
    except LaunchError as e:
        _fail(str(e), code=1)
    except (RecordError, KeyError, ValueError) as e:
        _fail(str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e))


def _stage_command(name: str, recipe, inp: Optional[Path], out: Optional[Path], force: bool, hide=(), **run_args):
    """What ``skyt1 <stage>`` does: the stage module's ``plan`` then ``run`` (as ``skyt1 run`` does),
    the summary printed as JSON."""
    from importlib import import_module

    from skyt1.records import run_stage

    module = import_module(f"skyt1.stages.{name}")
    stage = module.plan(recipe, inp=inp, out=out)
    summary = run_stage(stage, force, lambda: module.run(recipe, stage, **run_args), log=lambda m: typer.echo(m, err=True))
    if summary is not None:
        typer.echo(json.dumps({k: v for k, v in summary.items() if k not in hide}))


@app.command()
def tasks() -> None:
    """List the tasks (benchmarks and problem sources).

    Example: `skyt1 tasks`
    """
    from skyt1.tasks import registry

    for name, t in sorted(registry().items()):
        typer.echo(f"{name:28} {t.domain:8} {t.verifier:8} splits={','.join(t.splits):12} {t.description}")


@app.command()
def generate(
    recipe: Optional[str] = RecipeArg, sets: Optional[list[str]] = SetOpt,
    task: Optional[str] = typer.Option(None, help="task name (recipe: generate.task)"),
    split: Optional[str] = typer.Option(None, help="split of the task"),
    problems: Optional[Path] = typer.Option(None, "--in", help="JSONL of problem records instead of a task"),
    limit: Optional[int] = typer.Option(None, help="first N problems"),
    n: Optional[int] = typer.Option(None, help="samples per problem"),
    model: Optional[str] = typer.Option(None, help="teacher model"),
    backend: Optional[str] = typer.Option(None, help=backend_help()),
    out: Optional[Path] = typer.Option(None, help="stage directory (default: <run_dir>/generate)"),
    backend_args: Optional[str] = typer.Option(None, "--backend-args",
                                               help='JSON merged into the backend args, e.g. \'{"tensor_parallel_size": 8}\''),
    force: bool = ForceOpt,
) -> None:
    """Sample n responses per problem from a teacher; resumable after a crash (rerun the same command).

    Example: `skyt1 generate --task arithmetic --split train --limit 32 --n 4 --out runs/demo/generate`
    """
    extra = [f"generate.{k}={v}" for k, v in (("task", task), ("split", split), ("limit", limit),
                                               ("sampling.n", n), ("teacher.model", model), ("teacher.backend", backend)) if v is not None]
    if task is not None:
        extra.append("generate.sources=[]")  # a task named here replaces the recipe's mixture
    r = _recipe(recipe, sets, extra)
    if backend_args:
        r.generate.teacher.args = {**r.generate.teacher.args, **_json_object("--backend-args", backend_args)}

    _guard(lambda: _stage_command("generate", r, problems, out, force))


@app.command()
def score(
    task: str = typer.Option(..., help=f"{kinds_help()}, or a named task (math500, aime24, ...)"),
    inp: Path = typer.Option(..., "--in", help="JSONL of responses"),
    out: Optional[Path] = typer.Option(None, help="output JSONL (default: <in>.scored.jsonl)"),
    workers: int = typer.Option(2, help="verifier processes"),
    timeout: float = typer.Option(5.0, help="hard limit per math/choice answer, seconds"),
    code_timeout: float = typer.Option(6.0, help="per-test limit for code, seconds"),
    k: str = typer.Option("1", help="comma-separated k for pass@k"),
    unsafe_code: bool = typer.Option(False, "--unsafe-code", help="run code WITHOUT the bubblewrap sandbox (trusted code only)"),
    ray: Optional[str] = typer.Option(None, help="score on Ray: 'local' (a cluster started here), 'auto' or ray://host:port; "
                                                 "each task runs --workers verifier processes"),
) -> None:
    """Score any JSONL of responses; each row gains `correct`, `extracted`, `reason`; the last line is a JSON summary.

    Example: `skyt1 score --task math --in answers.jsonl --out scored.jsonl` (rows: `response`, `answer`)
    """

    def go():
        from skyt1.config import RayScoring
        from skyt1.stages.score import score_file

        dest = out or inp.with_name(inp.name.removesuffix(".jsonl") + ".scored.jsonl")
        cluster = None if ray is None else RayScoring(address=None if ray == "local" else ray,
                                                      workers_per_shard=max(workers, 1))
        summary = score_file(inp, dest, task, ks=[int(x) for x in k.split(",")], workers=workers, timeout=timeout,
                             code_timeout=code_timeout, unsafe_code=unsafe_code, ray=cluster,
                             log=lambda m: typer.echo(m, err=True))
        typer.echo(f"wrote {dest}", err=True)
        typer.echo(json.dumps({"file": str(dest), **summary}))

    _guard(go)


@app.command()
def rewrite(
    recipe: Optional[str] = RecipeArg, sets: Optional[list[str]] = SetOpt,
    inp: Optional[Path] = typer.Option(None, "--in", help="scored JSONL (default: <run_dir>/score/records.jsonl)"),
    out: Optional[Path] = typer.Option(None, help="stage directory (default: <run_dir>/rewrite)"),
    force: bool = ForceOpt,
) -> None:
    """Put correct traces into the Sky-T1 thought/solution format (structural, or an LLM rewriter).

    Example: `skyt1 rewrite --in runs/tiny/score/records.jsonl --out runs/tiny/rewrite`
    """
    r = _recipe(recipe, sets)

    _guard(lambda: _stage_command("rewrite", r, inp, out, force))


@app.command()
def curate(
    recipe: Optional[str] = RecipeArg, sets: Optional[list[str]] = SetOpt,
    inp: Optional[Path] = typer.Option(None, "--in", help="rewritten JSONL (default: <run_dir>/rewrite/records.jsonl)"),
    out: Optional[Path] = typer.Option(None, help="stage directory (default: <run_dir>/curate)"),
    force: bool = ForceOpt,
) -> None:
    """Keep verified traces; dedup, decontaminate; export ShareGPT (+dataset_info.json) and TRL messages.

    Example: `skyt1 curate --set curate.decontaminate='[math500, aime24]'`
    """
    r = _recipe(recipe, sets)

    # Every removed item is in summary.json and dropped.jsonl; the terminal gets the counts.
    _guard(lambda: _stage_command("curate", r, inp, out, force, hide=("removed",)))


@app.command()
def train(
    recipe: Optional[str] = RecipeArg, sets: Optional[list[str]] = SetOpt,
    data: Optional[Path] = typer.Option(None, help="TRL messages JSONL, or preference pairs (default: the curate stage's export)"),
    out: Optional[Path] = typer.Option(None, help="stage directory (default: <run_dir>/train or <run_dir>/preference)"),
    launch: bool = typer.Option(False, help="only print the accelerate launch command this node would run"),
    machine_rank: int = typer.Option(0, help="on several nodes: this node's rank (0 on the main node)"),
    main_process_ip: Optional[str] = typer.Option(None, help="on several nodes: the rank-0 node's address"),
    main_process_port: Optional[int] = typer.Option(None, help="the rank-0 node's port (default: a free one on "
                                                                "one node, 29500 on several)"),
    force: bool = ForceOpt,
) -> None:
    """Fine-tune the student: SFT on the curated set (TRL SFTTrainer; full or LoRA; loss on assistant
    tokens), or SimPO on preference pairs when the recipe has a `preference` section. With more than
    one process planned (`train.processes` per node, default `num_gpus`, times `num_nodes`) it starts
    `accelerate launch` itself; rerun after a crash to resume from the last checkpoint.

    Example: `skyt1 train --set train.method=lora --set train.epochs=1`;
    on 2 nodes of 8 GPUs, on each node: `skyt1 train -r sky-t1-32b-preview --set train.num_nodes=2
    --machine-rank RANK --main-process-ip 10.0.0.1`
    """
    r = _recipe(recipe, sets)
    if launch:
        def command():
            from skyt1.launch import launch_command

            cfg = r.preference or r.train
            args = ["--recipe", str(recipe or "tiny"), *sum((["--set", s] for s in sets or []), [])]
            args += [*(["--data", str(data)] if data else []), *(["--out", str(out)] if out else [])]
            cmd = launch_command(cfg.accelerate_config or "ddp", cfg.processes or max(cfg.num_gpus, 1), cfg.num_nodes,
                                 machine_rank=machine_rank, main_process_ip=main_process_ip, script_args=args,
                                 main_process_port=main_process_port or 29500)
            typer.echo(" ".join(cmd))

        _guard(command)
        return

    def go():
        import shutil

        from skyt1.stages import train as stage_module

        if force:  # a forced rerun starts from the base model, not the last checkpoint
            shutil.rmtree(stage_module.plan(r, inp=data, out=out).dir / "checkpoints", ignore_errors=True)
        _stage_command("train", r, data, out, force, machine_rank=machine_rank, main_process_ip=main_process_ip,
                       main_process_port=main_process_port)

    _guard(go)


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
    answer_prefix: Optional[str] = typer.Option(None, help="budget forcing: text that forces the answer (default '\\nFinal Answer:')"),
    answer_tokens: Optional[int] = typer.Option(None, help="budget forcing: answer token limit (default --max-tokens)"),
    sc: Optional[str] = typer.Option(None, help="comma-separated vote sizes: a self-consistency (maj@n) sweep"),
    sc_temperature: float = typer.Option(0.7, help="self-consistency: temperature of the votes"),
    write_report: bool = typer.Option(False, "--report", help="also write the run directory's report"),
) -> None:
    """Generate and score a model on benchmark tasks; results (with intervals) into the run store.

    Example: `skyt1 evaluate --model runs/tiny/train/model --task arithmetic,gsm8k --limit 50 --n 4 --temperature 0.7`

    Test-time scaling: `skyt1 evaluate --task math500 --limit 50 --budget 512,1024,2048 --wait-times 2 --sc 1,4,8 --report`
    """

    def go():
        from skyt1.backends.embedded import is_embedded
        from skyt1.config import EvaluateConfig, ModelSpec, Sampling, ScoreConfig
        from skyt1.stages.evaluate import evaluate as run_evaluate

        spec = ModelSpec(backend="embedded" if is_embedded(model) else backend, model=model, system_prompt=system_prompt,
                         batch_size=batch_size, args=_json_object("--backend-args", backend_args) if backend_args else {})
        bf = None
        if budget:
            bf = {"max_thinking_tokens": [int(b) for b in budget.split(",")], "wait_times": wait_times,
                  "end_think": end_think, "answer_max_tokens": answer_tokens,
                  **({"answer_prefix": answer_prefix} if answer_prefix is not None else {})}
        votes = {"n": [int(v) for v in sc.split(",")], "temperature": sc_temperature} if sc else None
        cfg = EvaluateConfig(tasks=task.split(","), split=split, limit=limit,
                             sampling=Sampling(n=n, temperature=temperature, top_p=top_p, max_tokens=max_tokens),
                             budget_forcing=bf, self_consistency=votes)
        label = Path(model).name if os.path.exists(model) else model.replace("/", "_")
        res = run_evaluate({label: spec}, cfg, ScoreConfig(workers=workers, ks=sorted({1, n})), run_dir, rescore=rescore,
                           log=lambda m: typer.echo(m, err=True))
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

    _guard(go)


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


@app.command()
def run(
    recipe: Optional[str] = typer.Argument(None, help="shipped recipe name or YAML path (default: tiny)"),
    sets: Optional[list[str]] = SetOpt, force: bool = ForceOpt,
    dry_run: bool = typer.Option(False, "--dry-run", help="check the recipe and print its plan; run nothing"),
) -> None:
    """Run every stage of a recipe (with no argument: the tiny CPU recipe) and write the report.

    Example: `skyt1 run` or `skyt1 run tiny --set generate.limit=32`;
    `skyt1 run sky-t1-32b-preview --dry-run` checks a recipe on any machine (no GPU, no hub) and prints its plan.
    """
    r = _recipe(recipe, sets)
    if dry_run:
        _guard(lambda: _dry_run(r))
        return

    def go():
        from skyt1.pipeline import run_recipe

        paths = run_recipe(r, force=force, log=lambda m: typer.echo(m, err=True))
        typer.echo((r.run_path / "report" / "report.md").read_text(encoding="utf-8"))
        typer.echo(f"report: {paths['markdown']}  {paths['html']}")

    _guard(go)


def _dry_run(r) -> None:
    from skyt1.cost_plan import format_plan, recipe_plan_cost
    from skyt1.dryrun import check

    lines, problems = check(r)
    typer.echo("\n".join(lines))
    try:
        typer.echo(format_plan(recipe_plan_cost(r)))
    except (ValueError, KeyError, OSError) as e:
        problems.append(f"cost: {e}")
    for p in problems:
        typer.secho(f"error: {p}", fg="red", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("dry run: the recipe is ready to run")


@app.command()
def cost(
    recipe: Optional[str] = typer.Argument(None, help="shipped recipe name or YAML path (default: tiny)"),
    sets: Optional[list[str]] = SetOpt,
    mfu: float = typer.Option(0.35, help="assumed model FLOPs utilization"),
    gpu: Optional[str] = typer.Option(None, help="GPU type (default: the recipe's, else H100)"),
) -> None:
    """Estimate a whole recipe's cost before it runs (generation, rewriter, training, evaluation), and
    its training time and dollars (6·N·D at an assumed MFU).

    The token count is the recipe's `estimate.tokens_per_epoch`, else the curated set's.

    Example: `skyt1 cost sky-t1-32b-preview --mfu 0.08`
    """
    r = _recipe(recipe, sets)
    from skyt1.cost_plan import format_plan, recipe_plan_cost
    from skyt1.estimate import recipe_estimate

    def show():
        typer.echo(f"Whole recipe, planned (each line with its assumption):\n{format_plan(recipe_plan_cost(r))}\n")
        typer.echo("Training, in detail:")
        typer.echo(recipe_estimate(r, mfu=mfu, gpu=gpu))  # a ValueError (no token count) exits 2, plan shown

    _guard(show)


def main() -> None:  # pragma: no cover
    app(prog_name="skyt1")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

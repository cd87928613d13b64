"""The stage commands: tasks, generate, score, rewrite, curate, train."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from skyt1.backends import backend_help
from skyt1.cli import ForceOpt, RecipeArg, SetOpt, _guard, _json_object, _recipe, _stage_command, app
from skyt1.verifiers.registry import kinds_help


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
    backend_args: Optional[str] = typer.Option(
        None, "--backend-args", help='JSON merged into the backend args, e.g. \'{"tensor_parallel_size": 8}\''),
    force: bool = ForceOpt,
) -> None:
    """Sample n responses per problem from a teacher; resumable after a crash (rerun the same command).

    Example: `skyt1 generate --task arithmetic --split train --limit 32 --n 4 --out runs/demo/generate`
    """
    given = (("task", task), ("split", split), ("limit", limit),
             ("sampling.n", n), ("teacher.model", model), ("teacher.backend", backend))
    extra = [f"generate.{k}={v}" for k, v in given if v is not None]
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
    unsafe_code: bool = typer.Option(False, "--unsafe-code",
                                     help="run code WITHOUT the bubblewrap sandbox (trusted code only)"),
    ray: Optional[str] = typer.Option(None, help="score on Ray: 'local' (a cluster started here), 'auto' or "
                                                 "ray://host:port; each task runs --workers verifier processes"),
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
    inp: Optional[Path] = typer.Option(None, "--in",
                                       help="rewritten JSONL (default: <run_dir>/rewrite/records.jsonl)"),
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
    data: Optional[Path] = typer.Option(
        None, help="TRL messages JSONL, or preference pairs (default: the curate stage's export)"),
    out: Optional[Path] = typer.Option(
        None, help="stage directory (default: <run_dir>/train or <run_dir>/preference)"),
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

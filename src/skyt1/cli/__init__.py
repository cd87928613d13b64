"""The ``skyt1`` command line: one thin function per command; heavy imports stay inside them
so that ``skyt1 --help`` answers at once. This package holds ``app`` and the helpers the commands share;
the commands live in ``stages`` (tasks .. train), ``evaluate`` (evaluate, report) and ``plan`` (run, cost)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    add_completion=False, no_args_is_help=True, rich_markup_mode="markdown",
    help="skyt1: the Sky-T1 recipe (teacher traces -> verified curation -> SFT -> evaluation) as software.",
)

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
        raise typer.Exit(0) from None
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
    summary = run_stage(stage, force, lambda: module.run(recipe, stage, **run_args),
                        log=lambda m: typer.echo(m, err=True))
    if summary is not None:
        typer.echo(json.dumps({k: v for k, v in summary.items() if k not in hide}))


def main() -> None:  # pragma: no cover
    app(prog_name="skyt1")


# The commands register on ``app`` as these modules load, in this order (the order ``skyt1 --help`` lists them).
from skyt1.cli import stages, evaluate, plan  # noqa: E402, F401

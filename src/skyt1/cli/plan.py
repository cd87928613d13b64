"""The whole-recipe commands: run (with --dry-run) and cost."""

from __future__ import annotations

from typing import Optional

import typer

from skyt1.cli import ForceOpt, SetOpt, _guard, _recipe, app


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

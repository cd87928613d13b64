"""What every rank runs under ``accelerate launch`` (started by ``skyt1.launch.run_launch``):
parse the stage's arguments, let the main rank prepare the stage directory, train, and leave a
failing rank's traceback where the launching process reads it (``<stage>/rank<R>.error``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from skyt1.records import RecordError

__all__ = ["is_main_rank", "launched"]


def is_main_rank() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def launched(argv: list[str] | None, *, prog: str = "python -m skyt1.stages.train") -> int:
    """The entry point every rank runs under ``accelerate launch`` (``skyt1.launch``):
    ``--recipe NAME|PATH [--set k=v ...] [--data PATH] [--out DIR] [--force]``. The main rank
    prepares the stage directory; every rank trains; the main rank prints the summary as JSON
    last. A rank that fails writes its traceback to ``<stage>/rank<R>.error`` first, so the
    process that launched the ranks can say which rank failed and why.
    """
    from skyt1.config import ConfigError, load_recipe
    from skyt1.records import StageAlreadyDone
    from skyt1.stages import train

    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--recipe", "-r", default=None, help="shipped recipe name or YAML path (default: tiny)")
    p.add_argument("--set", "-s", dest="sets", action="append", default=[], help="section.key=value (repeatable)")
    p.add_argument("--data", type=Path, default=None, help="training data (default: the curate stage's export)")
    p.add_argument("--out", type=Path, default=None, help="stage directory (default: <run_dir>/train or /preference)")
    p.add_argument("--force", action="store_true", help="redo a finished stage (its checkpoints are discarded)")
    a = p.parse_args(argv)
    try:
        recipe = load_recipe(a.recipe, a.sets)
        stage = train.plan(recipe, inp=a.data, out=a.out)
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if is_main_rank():
        try:
            stage.check(force=a.force)
        except StageAlreadyDone as e:
            print(e)
            return 0
        except RecordError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        if a.force:
            shutil.rmtree(stage.dir / "checkpoints", ignore_errors=True)
    elif stage.finished and (stage.manifest() or {}).get("config_hash") == stage.hash and not a.force:
        return 0
    from skyt1.stages import fsdp_cpu

    if fsdp_cpu.wanted():
        fsdp_cpu.enable()
    try:
        summary = train.fit_here(recipe, stage)
    except (RecordError, ValueError) as e:
        _record_rank_error(stage.dir)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BaseException:
        _record_rank_error(stage.dir)
        raise
    if is_main_rank():
        print(json.dumps(summary))
    return 0


def _record_rank_error(stage_dir: Path) -> None:
    import traceback

    if "LOCAL_RANK" in os.environ:  # only under a launcher: someone reads it
        stage_dir.mkdir(parents=True, exist_ok=True)
        (stage_dir / f"rank{os.environ.get('RANK', '0')}.error").write_text(traceback.format_exc(), encoding="utf-8")

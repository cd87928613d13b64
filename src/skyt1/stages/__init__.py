"""The stages. Each module in ``PIPELINE`` exports the same pair, which ``skyt1 <stage>`` and
``skyt1 run`` both call:

- ``plan(recipe, *, inp=None, out=None) -> Stage``: the stage's directory (default
  ``<run_dir>/<name>``), its hashed config and its input files (default: the upstream stage's
  output); cheap, loads no model and no data, so ``skyt1 run --dry-run`` can call it;
- ``run(recipe, stage) -> dict``: do the work (resuming what is written), finish the stage,
  return its summary.

``evaluate`` follows (``evaluate.run(recipe)``): it holds a generate and a score stage per model
and task.
"""

PIPELINE = ("generate", "score", "rewrite", "curate", "train")

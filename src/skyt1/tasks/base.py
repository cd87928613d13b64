"""What a task is: a problem source, a prompt template and a verifier.

Each module in ``skyt1.tasks`` defines ``TASK`` (or ``TASKS``, a list); ``registry()`` finds
them by discovery, so adding a benchmark is adding one small module (lighteval's
``tasks/tasks/*.py``, nanochat's ``tasks/gsm8k.py``).

A problem is a dict with ``id`` (``"<task>/<native id>"``), ``task``, ``domain``, ``question``
and, by kind, ``answer`` (math, choice), ``choices``, ``tests`` (code) and ``meta``.
"""

from __future__ import annotations

import importlib
import re
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

__all__ = ["Task", "registry", "get_task", "BOXED_INSTRUCTION"]

BOXED_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass(frozen=True)
class Task:
    name: str
    domain: str  # math | code | science | puzzle
    verifier: str  # a kind in skyt1.verifiers.dispatch.KINDS: math, math_int, number, choice, code
    load: Callable[[str], list[dict]]  # split -> problems, in a stable order
    splits: tuple[str, ...] = ("test",)
    prompt: str = "{question}\n\n" + BOXED_INSTRUCTION  # filled with the problem's fields
    description: str = ""
    source: str = ""  # where the data comes from (hub id and/or bundled path)
    license: str = ""
    paper: str = ""
    sampling: dict = field(default_factory=dict)  # default sampling for reasoning models
    sizes: dict = field(default_factory=dict)  # published problems per split, hub-only tasks (cost plan offline)

    def problems(self, split: str | None = None, limit: int | None = None) -> list[dict]:
        split = split or self.splits[-1]
        if split not in self.splits:
            raise ValueError(f"task {self.name!r} has splits {list(self.splits)}, not {split!r}")
        rows = self.load(split)
        return rows[:limit] if limit else rows

    def render(self, problem: dict) -> str:
        """The user message: ``{field}`` in the template is the problem's field (other braces,
        such as ``\\boxed{}``, are left alone)."""
        return re.sub(r"\{(\w+)\}", lambda m: str(problem.get(m.group(1), m.group(0))), self.prompt)


@cache
def registry() -> dict[str, Task]:
    """Every task in the ``skyt1.tasks`` package, by name."""
    import skyt1.tasks as pkg

    found: dict[str, Task] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        mod = importlib.import_module(f"skyt1.tasks.{info.name}")
        for task in getattr(mod, "TASKS", [getattr(mod, "TASK", None)]):
            if task is not None:
                if task.name in found:
                    raise RuntimeError(f"task {task.name!r} defined twice ({info.name})")
                found[task.name] = task
    return found


def get_task(name: str) -> Task:
    tasks = registry()
    if name not in tasks:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(tasks))}")
    return tasks[name]

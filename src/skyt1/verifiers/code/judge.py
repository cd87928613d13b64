"""Judge a code answer by running it against its tests in the sandbox.

``judge_code(response, tests)`` extracts the last Python block (:mod:`.extract`), runs
*all* tests of the problem in one sandbox session (:mod:`.sandbox`, harness
:mod:`.harness`) and returns a verdict ``{"correct", "extracted", "reason", "passed",
"total", "detail"}``; reason is one of correct, wrong_answer, no_answer, timeout,
runtime_error, memory, compile_error, sandbox_error, output_limit (for the first failing
test). ``tests`` (a dict, a list, or a JSON / Python-literal string of one) is one of:

1. stdin/stdout - ``{"inputs": [str], "outputs": [str]}`` (APPS/TACO ``input_output``,
   code_contests) or ``[{"input": str, "output": str}]`` (Codeforces). The program reads
   stdin; its stdout matches when equal after trimming trailing whitespace per line and
   blank lines at the ends, or token by token (whitespace-insensitive) where a token of
   the expected output that looks like a decimal/exponent float may differ by 1e-6
   (relative or absolute; the problem's own bound when it states one, see :mod:`.modes`).
   ``None`` as an input is empty stdin. Exit status must be 0.
2. call-based - ``{"fn_name": f, "inputs": [[args]], "outputs": [value]}``: calls
   ``Solution().f(*args)`` when the program defines ``class Solution`` with ``f``
   (LeetCode), else ``f(*args)``. The return value comes back as tagged JSON of plain
   data and is compared here: typed (bool only equals bool, str only str), numbers within
   the tolerance, tuples equal lists, and an expected ``[v]`` also accepts ``v`` (APPS convention).
3. assert-style - ``{"asserts": [str], "setup": str?}`` (MBPP ``test_list`` and
   ``test_imports``), ``{"check": "def check(candidate): ...", "entry_point": name}``
   (HumanEval; ``check(name)`` is called) or ``{"functional": src}`` (LeetCode: a script
   that ends by calling ``check(Solution().f)``). Call-based and ``functional`` programs
   get LeetCode's implicit imports (:data:`PRELUDE`: ``typing``, ``collections``,
   ``itertools``, ``functools``, ``heapq``, ``bisect``, ``string``, ``math`` names, never
   shadowing builtins); HumanEval and MBPP programs run as written, as upstream.

``timeout`` is per test (an assert-style suite is one test); ``memory_mb`` is the address
space of each test process. A problem's tests stop at the first crash, timeout or limit.

What the grader trusts. Stdin/stdout and call-based tests: expected outputs never enter
the sandbox and comparisons happen here on decoded plain data, so reading the grader's
frames or memory finds nothing, and an object with an always-true ``__eq__`` cannot even
leave the sandbox. Assert-style tests are code, so they necessarily run inside, next to
the program, which therefore can read them. Defences: the program runs first in its own
namespace and the tests after in a copy; every operand of a comparison and every assert
condition is passed through ``plain()`` (AST rewrite done here), which copies values into
exact built-in types and rejects objects with Python-level comparison or truth methods,
so always-equal objects fail; and a pass needs a random token (fresh per call) written
only after the last statement, so ``sys.exit(0)``, ``os._exit(0)`` or a killed process
fail. Not defended: a program that deliberately searches its own process memory for the
token or patches the harness (gc, frames, ctypes) can forge a pass - the sandbox keeps
such a program contained, not honest. Treat assert-style verdicts of adversarial code as
untrusted.
"""

from __future__ import annotations

import ast
import functools
import json
import marshal
import secrets
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..verdict import Verdict, make
from .compare import TOLERANCE, decode_value, stdout_matches, value_matches
from .extract import extract_code
from .modes import MODES, stated_tolerance
from .confine import PACKAGES_DIR, allowed_packages
from .sandbox import SandboxUnavailable, run_in_sandbox, usable_packages

__all__ = ["judge_code", "judge_many", "extract_code", "normalize_tests", "stdout_matches",
           "value_matches", "decode_value", "harden", "SandboxUnavailable", "PRELUDE"]

PRELUDE = """\
from typing import *
from collections import *
from itertools import *
from functools import *
from heapq import *
from bisect import *
from string import *
from math import *
import math, heapq, bisect, collections, itertools, functools, string, re, sys, random, operator
inf = float('inf')
"""
OUTPUT_LIMIT = 8 << 20
TOTAL_LIMIT = 32 << 20


@functools.lru_cache(maxsize=1)
def _harness() -> str:
    return Path(__file__).with_name("harness.py").read_text()


def _parse(tests: Any) -> Any:
    if isinstance(tests, (str, bytes)):
        try:
            return json.loads(tests)
        except ValueError:
            return ast.literal_eval(tests if isinstance(tests, str) else tests.decode())
    return tests


class _Plainify(ast.NodeTransformer):
    def visit_Assert(self, node: ast.Assert) -> ast.Assert:
        self.generic_visit(node)
        node.test = self._cond(node.test)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.Compare:
        self.generic_visit(node)
        if all(isinstance(op, (ast.Is, ast.IsNot)) for op in node.ops):
            return node  # identity cannot be faked, and copies would break it
        node.left = _wrap(node.left)
        node.comparators = [_wrap(c) for c in node.comparators]
        return node

    def _cond(self, e: ast.expr) -> ast.expr:
        if isinstance(e, ast.BoolOp):
            e.values = [self._cond(v) for v in e.values]
            return e
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            e.operand = self._cond(e.operand)
            return e
        return e if isinstance(e, ast.Compare) else _wrap(e)


def _wrap(e: ast.expr) -> ast.expr:
    return ast.Call(func=ast.Name(id="__skyt1_plain", ctx=ast.Load()), args=[e], keywords=[])


def harden(src: str) -> str:
    """Route every comparison operand and assert condition of test code through ``plain()``."""
    try:
        tree = _Plainify().visit(ast.parse(src))
    except (SyntaxError, ValueError, RecursionError):
        return src
    return ast.unparse(ast.fix_missing_locations(tree))


def normalize_tests(tests: Any) -> dict:
    """One of ``{"mode": "stdio", "inputs", "outputs"}``, ``{"mode": "call", "fn_name",
    "inputs", "outputs"}``, ``{"mode": "script", "statements", "first", "total"}``, each
    with ``prelude`` (bool) and ``tolerance`` (float or None: ``tests["tolerance"]``).
    Raises ValueError for anything else (see :mod:`.modes`)."""
    t = _parse(tests)
    if isinstance(t, list) and t and all(isinstance(x, dict) and "input" in x for x in t):
        t = {"inputs": [x["input"] for x in t], "outputs": [x.get("output", "") for x in t]}
    if not isinstance(t, dict):
        raise ValueError(f"unsupported tests of type {type(t).__name__}")
    tol = t.get("tolerance")
    if tol is not None and not (isinstance(tol, (int, float)) and 0 <= tol < 1):
        raise ValueError(f"tests field 'tolerance' must be a number in [0, 1), got {tol!r}")
    for mode in MODES.values():
        if (norm := mode.parse(t)) is not None:
            return dict(norm, tolerance=tol)
    raise ValueError(f"unsupported tests with keys {sorted(t)[:8]}")


def judge_code(response: str, tests: Any, *, timeout: float = 6.0, memory_mb: int = 1024,
               unsafe: bool = False, slot: int = 0, statement: str | None = None) -> Verdict:
    """Verdict for ``response`` against ``tests`` (see the module docstring).

    ``slot`` picks the worker's sandbox uid (one session per slot at a time); ``statement`` (the
    problem text) supplies the float tolerance when the tests carry none (:mod:`.modes`). Raises
    :class:`SandboxUnavailable` when bwrap cannot run and ``unsafe`` is false, ValueError
    for malformed ``tests``.
    """
    norm = normalize_tests(tests)
    mode = MODES[norm["mode"]]
    tol = norm["tolerance"] if norm["tolerance"] is not None else stated_tolerance(statement) or TOLERANCE
    code, total = extract_code(response), mode.total(norm)
    if code is None:
        return make(False, None, "no_answer", passed=0, total=total, detail="no code block")
    if total == 0:
        raise ValueError("no tests")
    token = secrets.token_hex(16)
    cfg = {"mode": mode.name, "code": code, "prelude": PRELUDE if norm["prelude"] else "", "timeout": float(timeout),
           "memory_mb": int(memory_mb), "output_limit": OUTPUT_LIMIT, "total_limit": TOTAL_LIMIT,
           "sweep": not unsafe, **mode.config(norm, token)}
    packages = usable_packages(allowed_packages(), unsafe)  # numpy by default, read-only
    if packages:
        cfg["path"] = [str(Path(packages[0][0]).parent) if unsafe else PACKAGES_DIR]
    run = run_in_sandbox({"harness.py": _harness()}, ["python", "harness.py"],
                         stdin=marshal.dumps(cfg, 4), timeout=mode.n_runs(norm) * (timeout + 1.0) + 10.0,
                         memory_mb=memory_mb, max_output=TOTAL_LIMIT + (1 << 20), slot=slot,
                         unsafe=unsafe, packages=() if unsafe else packages)
    if run.timed_out:
        return make(False, code, "timeout", passed=0, total=total, detail="session wall clock exceeded")
    if run.output_truncated:
        return make(False, code, "output_limit", passed=0, total=total, detail="session output cap exceeded")
    try:
        out = json.loads(run.stdout)
    except ValueError:
        reason = "memory" if run.memory_exceeded else "sandbox_error"
        return make(False, code, reason, passed=0, total=total,
                    detail=f"harness exit {run.returncode}: {run.stderr[-300:].decode(errors='replace')}")
    if "compile_error" in out:
        return make(False, code, "compile_error", passed=0, total=total, detail=str(out["compile_error"])[:300])
    return mode.verdict(code, norm, out.get("results") or [], token, tol)


def judge_many(items: Iterable[tuple[str, Any]], *, workers: int = 2, **kwargs: Any) -> list[dict]:
    """``judge_code`` over ``(response, tests)`` pairs with ``workers`` parallel sandbox slots."""
    slots = list(range(workers))
    lock = threading.Lock()

    def one(item: tuple[str, Any]) -> dict:
        with lock:
            slot = slots.pop()
        try:
            return judge_code(item[0], item[1], slot=slot, **kwargs)
        finally:
            with lock:
                slots.append(slot)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, items))

"""Offline stand-ins for the competitive-programming sources, bundled from the rLLM/DeepCoder
test sets (agentica-project, MIT collection): ``code_contests`` (165 DeepMind CodeContests
problems, stdin/stdout), ``codeforces`` (408 Codeforces problems, stdin/stdout) and ``leetcode``
(LeetCode problems with a ``check(candidate)`` function). They have the test shapes of the
hub-only APPS / TACO / LiveCodeBench, so the code pipeline runs with no network.

The source files store ``tests`` either parsed or as Python literal strings; strings are read
with ``ast.literal_eval``, never ``eval``. Codeforces' ``[{"input", "output"}]`` becomes
``{"inputs", "outputs"}``. LeetCode's ``check`` ends by calling ``check(Solution().method)``;
that call is cut off and ``Solution().method`` becomes the ``entry_point``. 15 LeetCode
problems appear twice in the source; only the first copy is kept.
"""

from __future__ import annotations

import ast
import re

from skyt1.tasks._data import read_rows
from skyt1.tasks.apps import CODE_PROMPT, STDIN_INSTRUCTION
from skyt1.tasks.base import Task

_LEETCODE_HEADER = (
    "Please solve the programming task below using a self-contained code snippet in a markdown code block."
)
_CHECK_CALL = re.compile(r"\n\s*check\((Solution\(\)\.\w+)\)\s*$")
# The names LeetCode's Python judge predefines, which its starter code assumes.
LEETCODE_SETUP = (
    "from typing import *\nfrom collections import *\nfrom itertools import *\nfrom functools import *\n"
    "from heapq import *\nfrom bisect import *\nfrom math import *\n"
    "import math, collections, itertools, heapq, bisect, string, re"
)
LEETCODE_INSTRUCTION = (
    "Complete the `Solution` class above; it is called directly, so do not read input or print. "
    "Return the complete class in a single ```python code block."
)
# DeepSeek-R1 (arXiv:2501.12948, sec. 3.1): temperature 0.6, top-p 0.95, up to 32,768 tokens.
SAMPLING = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 32768}


def _parsed(tests):
    return ast.literal_eval(tests) if isinstance(tests, str) else tests


def _stdin_tests(tests) -> dict:
    tests = _parsed(tests)
    if isinstance(tests, list):  # Codeforces: [{"input", "output"}, ...]
        return {"inputs": [t["input"] for t in tests], "outputs": [t["output"] for t in tests]}
    return {"inputs": list(tests["inputs"]), "outputs": list(tests["outputs"])}


def _check_tests(tests) -> dict:
    check = _parsed(tests)["functional"]
    m = _CHECK_CALL.search(check)
    if not m:
        raise ValueError("LeetCode check() does not end with check(Solution().<method>)")
    return {"check": check[: m.start()].rstrip() + "\n", "entry_point": m[1], "setup": LEETCODE_SETUP}


def _load(name: str) -> list[dict]:
    out, seen = [], set()
    for i, r in enumerate(read_rows(f"code_tests_rllm/{name}_test.json")):
        if r["problem"] in seen:
            continue
        seen.add(r["problem"])
        leetcode = name == "leetcode"
        question = r["problem"].replace(_LEETCODE_HEADER, "").strip()
        problem = {
            "id": f"{name}/{i}",
            "task": name,
            "domain": "code",
            "question": question,
            "instruction": LEETCODE_INSTRUCTION if leetcode else STDIN_INSTRUCTION,
            "tests": _check_tests(r["tests"]) if leetcode else _stdin_tests(r["tests"]),
            "meta": {"source": name, **({"reference": r["solutions"]} if leetcode else {})},
        }
        out.append(problem)
    return out


def _task(name: str, description: str) -> Task:
    return Task(
        name=name,
        domain="code",
        verifier="code",
        load=lambda split: _load(name),
        prompt=CODE_PROMPT,
        description=description,
        source=f"bundled data/code_tests_rllm/{name}_test.json (rLLM / DeepCoder test set)",
        license="MIT (collection, agentica-project); problem statements from their sites",
        paper="https://github.com/agentica-project/rllm",
        sampling=dict(SAMPLING),
    )


TASKS = [
    _task("code_contests", "DeepMind CodeContests problems (165), stdin/stdout tests"),
    _task("codeforces", "Codeforces problems (408), stdin/stdout tests"),
    _task("leetcode", "LeetCode problems, Solution class checked by check(candidate)"),
]

"""Code verification: extract the program, run its tests in a bubblewrap sandbox, judge.

Public API (see each module's docstring for the contract):

- :func:`extract_code` (``extract.py``): the last fenced Python block of a response.
- :func:`judge_code`, :func:`judge_many` (``judge.py``): verdict dicts
  ``{"correct", "extracted", "reason", "passed", "total", "detail"}``.
- ``modes.py``: the three test modes (stdin/stdout, call, script), one type each, and the float
  tolerance taken from the problem.
- :func:`run_in_sandbox`, :class:`RunResult`, :func:`bwrap_available`,
  :class:`SandboxUnavailable` (``sandbox.py``): the sandbox itself, and exactly what it
  does and does not isolate; ``confine.py``: its seccomp filter, cgroup limits and packages.

``harness.py`` is not imported here: it is the program that runs inside the sandbox.
"""

from .extract import extract_code
from .judge import decode_value, judge_code, judge_many, normalize_tests, stdout_matches, value_matches
from .sandbox import RunResult, SandboxUnavailable, bwrap_available, run_in_sandbox

__all__ = [
    "extract_code", "judge_code", "judge_many", "normalize_tests", "stdout_matches",
    "value_matches", "decode_value", "run_in_sandbox", "RunResult", "bwrap_available",
    "SandboxUnavailable",
]

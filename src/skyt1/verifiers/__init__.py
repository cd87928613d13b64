"""Verifiers: pure functions ``(response, problem) -> Verdict``.

A verdict (:mod:`.verdict`) is ``{"correct": bool, "extracted": str | None, "reason": str}``
with reason one of :data:`.verdict.REASONS`. The kinds are registered in :mod:`.registry`. They
run in worker processes with hard time limits (``pool.py``); nothing here evaluates model text
as code outside the sandbox.
"""

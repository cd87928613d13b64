"""The code judge's three test modes, each one small type: its judge-side preparation (the shape
of tests it accepts, what the harness is told), and its verdict from the harness's results. The
harness-side run of each mode is the runner of the same name in ``harness.py`` (which must stay a
single stdlib-only file: it runs inside the sandbox).

- :class:`Stdio`: ``{"inputs": [str], "outputs": [str]}`` / ``[{"input", "output"}]``; ``None``
  as an input is empty stdin (APPS rows without input); ``None`` as an output is rejected.
- :class:`Call`: ``{"fn_name", "inputs": [[args]], "outputs": [value]}``.
- :class:`Script`: ``{"asserts"|"test_list", "setup"?}``, ``{"check", "entry_point"}``, ``{"functional"}``.

Float tolerance (stdio and call): ``tests["tolerance"]`` when given, else the bound the problem
statement states ("absolute or relative error ... does not exceed 10^{-9}", "within 1e-4", as
Codeforces and AtCoder phrase it), else :data:`~.compare.TOLERANCE` (1e-6, the bound most such
statements give). A tolerance is relative or absolute, whichever is looser, as those judges check.
"""

from __future__ import annotations

import re
from typing import Any

from ..verdict import Verdict, make
from .compare import decode_value, stdout_matches, value_matches

__all__ = ["Mode", "Stdio", "Call", "Script", "MODES", "stated_tolerance"]

_TOL_RE = re.compile(
    r"(?:error|differ\w*|precision|toleran\w*|accurate|within)[^.;\n]{0,120}?"
    r"(?:10\s*\^\s*\{?\s*[-−–]\s*(\d+)\s*\}?|\b1\s*[eE]\s*[-−–]\s*(\d+)|\b(0\.0*1)\b)",
    re.IGNORECASE,
)


def stated_tolerance(statement: str | None) -> float | None:
    """The float tolerance a problem statement states, or None."""
    if not statement:
        return None
    m = _TOL_RE.search(statement)
    if m is None:
        return None
    if m.group(3):
        return float(m.group(3))
    return 10.0 ** -int(m.group(1) or m.group(2))


def _short(x: Any, n: int = 120) -> str:
    s = repr(x)
    return s if len(s) <= n else s[:n] + "..."


def _text(x: Any) -> str:
    return "\n".join(map(str, x)) if isinstance(x, list) else "" if x is None else str(x)


class Mode:
    """One test mode (see the module docstring). ``n_runs`` is the harness's process count."""

    name = ""

    def parse(self, t: dict) -> dict | None:
        raise NotImplementedError

    def total(self, norm: dict) -> int:
        return len(norm["inputs"])

    def config(self, norm: dict, token: str) -> dict:
        return {"tests": norm["inputs"], "fn_name": norm.get("fn_name")}

    def n_runs(self, norm: dict) -> int:
        return len(norm["inputs"])

    def matches(self, res: dict, expected: Any, tol: float) -> tuple[bool, Any]:
        raise NotImplementedError

    def verdict(self, code: str, norm: dict, results: list[dict], token: str, tol: float) -> Verdict:
        total, passed, first_fail = self.total(norm), 0, None
        for i, res in enumerate(results):
            if res["status"] != "ok":
                ok, why = False, (res["status"], f"test {i}: {res['status']} {res.get('stderr', '')[-300:]}".strip())
            else:
                ok, got = self.matches(res, norm["outputs"][i], tol)
                why = ("wrong_answer", f"test {i}: expected {_short(norm['outputs'][i])}, got {_short(got)}")
            passed += ok
            if not ok and first_fail is None:
                first_fail = why
        if first_fail is None and len(results) < total:
            first_fail = ("sandbox_error", f"harness returned {len(results)} of {total} results")
        reason, detail = first_fail or ("correct", "")
        return make(reason == "correct", code, reason, passed=passed, total=total, detail=detail)


def _pairs(t: dict) -> tuple[list, list]:
    ins, outs = list(t["inputs"]), list(t["outputs"])
    if len(ins) != len(outs):
        raise ValueError(f"{len(ins)} inputs but {len(outs)} outputs")
    return ins, outs


class Stdio(Mode):
    name = "stdio"

    def parse(self, t: dict) -> dict | None:
        if "inputs" not in t or "outputs" not in t or t.get("fn_name"):
            return None
        ins, outs = _pairs(t)
        if any(o is None for o in outs):
            raise ValueError(f"stdin/stdout test {outs.index(None)} has no expected output (None)")
        return {"mode": self.name, "inputs": [_text(i) for i in ins], "outputs": [_text(o) for o in outs],
                "prelude": False}

    def matches(self, res: dict, expected: Any, tol: float) -> tuple[bool, Any]:
        got = res.get("stdout", "")
        return stdout_matches(got, expected, tol), got


class Call(Mode):
    name = "call"

    def parse(self, t: dict) -> dict | None:
        if "inputs" not in t or "outputs" not in t or not t.get("fn_name"):
            return None
        ins, outs = _pairs(t)
        return {"mode": self.name, "fn_name": str(t["fn_name"]), "inputs": ins, "outputs": outs, "prelude": True}

    def matches(self, res: dict, expected: Any, tol: float) -> tuple[bool, Any]:
        try:
            got = decode_value(res.get("value", ""))
        except ValueError as exc:
            return False, str(exc)
        return value_matches(got, expected, tol), got


class Script(Mode):
    name = "script"

    def parse(self, t: dict) -> dict | None:
        from .judge import harden

        if "asserts" in t or "test_list" in t:
            asserts = list(t.get("asserts", t.get("test_list")) or [])
            setup = t.get("setup") or "\n".join(t.get("test_imports") or [])
            stmts = ([harden(setup)] if setup else []) + [harden(a) for a in asserts]
            return {"mode": self.name, "statements": stmts, "first": int(bool(setup)), "total": len(asserts),
                    "prelude": False}
        if "check" in t or "functional" in t:
            src = t.get("check") or t["functional"]
            if "check" in t:
                entry = t.get("entry_point") or ""
                if not entry.isidentifier():
                    raise ValueError(f"check tests need an identifier entry_point, got {entry!r}")
                src = f"{src}\n\ncheck({entry})\n"
            return {"mode": self.name, "statements": [harden(src)], "first": 0, "total": 1,
                    "prelude": "functional" in t}
        return None

    def total(self, norm: dict) -> int:
        return norm["total"]

    def config(self, norm: dict, token: str) -> dict:
        return {"tests": norm["statements"], "token": token}

    def n_runs(self, norm: dict) -> int:
        return 1

    def verdict(self, code: str, norm: dict, results: list[dict], token: str, tol: float) -> Verdict:
        total, first = norm["total"], norm["first"]
        if not results:
            return make(False, code, "sandbox_error", passed=0, total=total, detail="")
        res = results[0]
        lines = res.get("channel", "").splitlines()
        passed = min(total, sum(1 for ln in lines if re.fullmatch(r"pass \d+", ln) and int(ln[5:]) >= first))
        if res["status"] != "ok":
            return make(False, code, res["status"], passed=passed, total=total, detail=res.get("stderr", "")[-300:])
        if lines and lines[-1] == token:
            return make(True, code, "correct", passed=total, total=total, detail="")
        fail = next((ln for ln in lines if ln.startswith("fail ")), None)
        if fail is None:
            return make(False, code, "runtime_error", passed=passed, total=total,
                        detail="exited before the tests finished")
        kind = fail.split(" ", 3)[2] if fail.count(" ") >= 2 else "error"
        return make(False, code, "wrong_answer" if kind == "assert" else "runtime_error", passed=passed, total=total,
                    detail=fail[:300])


MODES: dict[str, Mode] = {m.name: m for m in (Script(), Call(), Stdio())}  # order: the first shape that fits

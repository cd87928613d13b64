"""The cost ledger: what each stage used, and what it cost at the recipe's prices.

A ``Ledger`` counts wall seconds, CPU seconds (this process and its children, from
``resource.getrusage``), GPU seconds (wall seconds x GPUs in use), and tokens in and out per
API model. ``priced(prices)`` turns those into dollars with the recipe's ``prices`` table:
$ per CPU-hour, $ per GPU-hour by GPU type, and $ per million input/output tokens by API model.

A stage that resumes after a crash must not forget what the crashed attempts spent: with
``start(carry=PATH)`` the ledger records its own wall and CPU seconds in PATH every 10 s (and
at start and stop), and adds those of the earlier attempts found there; ``attempts`` counts
them. Earlier attempts' GPU seconds are their wall seconds times this attempt's GPUs.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Ledger", "price_ledger", "sum_ledgers"]


def _cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


@dataclass
class Ledger:
    stage: str = ""
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    gpu_seconds: float = 0.0
    gpu_type: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    api_tokens: dict[str, dict[str, int]] = field(default_factory=dict)  # model -> {"in", "out"}
    attempts: int = 1
    _t0: float = field(default=0.0, repr=False)
    _c0: float = field(default=0.0, repr=False)
    _carry: Path | None = field(default=None, repr=False)
    _earlier: dict = field(default_factory=dict, repr=False)
    _carried_wall: float = field(default=0.0, repr=False)
    _beating: threading.Event | None = field(default=None, repr=False)

    def start(self, carry: str | Path | None = None) -> Ledger:
        self._t0, self._c0 = time.time(), _cpu_seconds()
        if carry is not None:
            self._carry, self._id, self._since = Path(carry), uuid.uuid4().hex[:12], (self._t0, self._c0)
            if self._carry.exists():
                self._earlier = json.loads(self._carry.read_text(encoding="utf-8"))
            self.attempts += len(self._earlier)
            self._carried_wall = sum(a["wall_seconds"] for a in self._earlier.values())
            self.wall_seconds += self._carried_wall
            self.cpu_seconds += sum(a["cpu_seconds"] for a in self._earlier.values())
            self._beat()
            self._beating = threading.Event()
            self._beater = threading.Thread(target=self._heartbeat, args=(self._beating,), daemon=True)
            self._beater.start()
        return self

    def stop(self, gpus: int = 0) -> Ledger:
        if self._beating is not None:
            self._beating.set()
            self._beater.join()  # a beat in flight finishes before the caller may move or remove the stage
            self._beat()
            self._beating = None
        wall = time.time() - self._t0
        self.wall_seconds += wall
        self.cpu_seconds += _cpu_seconds() - self._c0
        self.gpu_seconds += (wall + self._carried_wall) * gpus
        self._carried_wall = 0.0
        self._t0, self._c0 = time.time(), _cpu_seconds()
        return self

    def _heartbeat(self, done: threading.Event) -> None:
        while not done.wait(10.0):
            try:
                self._beat()
            except OSError:  # best effort: the stage directory may be gone (an error path cleaned it up)
                return

    def _beat(self) -> None:
        """Write this attempt's spend so far next to the earlier ones' (atomically)."""
        t0, c0 = self._since
        own = {"wall_seconds": round(time.time() - t0, 3), "cpu_seconds": round(_cpu_seconds() - c0, 3)}
        tmp = self._carry.with_name(f".{self._carry.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**self._earlier, self._id: own}), encoding="utf-8")
        os.replace(tmp, self._carry)

    def tokens(self, prompt: int, completion: int, api_model: str | None = None) -> None:
        self.prompt_tokens += prompt
        self.completion_tokens += completion
        if api_model:
            slot = self.api_tokens.setdefault(api_model, {"in": 0, "out": 0})
            slot["in"] += prompt
            slot["out"] += completion

    def to_dict(self, prices: dict | None = None) -> dict:
        d = {k: v for k, v in asdict(self).items() if not k.startswith("_")}
        d["usd"] = price_ledger(d, prices or {})
        return d


def price_ledger(d: dict, prices: dict) -> dict:
    """Dollars by line item for a ledger dict, with the recipe's ``prices`` table."""
    cpu = d["cpu_seconds"] / 3600 * prices.get("cpu_hour", 0.0)
    gpu_rate = prices.get("gpu_hour", {}).get(d.get("gpu_type") or "", 0.0)
    gpu = d["gpu_seconds"] / 3600 * gpu_rate
    api = 0.0
    for model, used in d.get("api_tokens", {}).items():
        rate = prices.get("api", {}).get(model, {})
        api += used["in"] / 1e6 * rate.get("input", 0.0) + used["out"] / 1e6 * rate.get("output", 0.0)
    return {"cpu": round(cpu, 6), "gpu": round(gpu, 6), "api": round(api, 6), "total": round(cpu + gpu + api, 6)}


def sum_ledgers(ledgers: list[dict]) -> dict:
    """Totals over stage ledgers (each already priced)."""
    total = {"wall_seconds": 0.0, "cpu_seconds": 0.0, "gpu_seconds": 0.0, "prompt_tokens": 0, "completion_tokens": 0}
    usd = {"cpu": 0.0, "gpu": 0.0, "api": 0.0, "total": 0.0}
    for led in ledgers:
        for k in total:
            total[k] += led.get(k, 0)
        for k in usd:
            usd[k] += led.get("usd", {}).get(k, 0.0)
    return {**total, "usd": {k: round(v, 6) for k, v in usd.items()}}

"""The HTTP plumbing of the OpenAI-compatible backend (:mod:`skyt1.backends.openai`, whose docstring
states the contract): the ``rpm``/``tpm`` token buckets, the server's retry hints (``retry-after-ms``,
``Retry-After`` as seconds or HTTP-date), a per-attempt time limit, and the error message of an answer."""

from __future__ import annotations

import asyncio
import email.utils
import time

import httpx

class _Bucket:
    """Token bucket refilled at ``per_minute/60`` a second, holding at most one second's worth.
    An acquire may overdraw (a request bigger than the bucket still goes, then others wait)."""

    def __init__(self, per_minute: float):
        self.rate = per_minute / 60.0
        self.cap = max(1.0, self.rate)
        self.level, self.t = self.cap, time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level, self.t = min(self.cap, self.level + (now - self.t) * self.rate), now

    async def take(self, cost: float, lock: asyncio.Lock) -> None:
        async with lock:  # FIFO: the first waiter is served first
            self._refill()
            while self.level < min(cost, self.cap):
                await asyncio.sleep((min(cost, self.cap) - self.level) / self.rate)
                self._refill()
            self.level -= cost

    def give(self, tokens: float) -> None:
        self._refill()
        self.level = min(self.cap, self.level + tokens)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP-date)."""
    for value, scale in ((headers.get("retry-after-ms"), 1000), (headers.get("retry-after"), 1)):
        try:
            if value:
                return max(0.0, float(value) / scale)
        except ValueError:
            pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return None


async def _within(seconds: float, coro):
    """``coro``'s result, or ``asyncio.TimeoutError`` after ``seconds`` (no extra task on 3.11+)."""
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(seconds):
            return await coro
    return await asyncio.wait_for(coro, seconds)


def _server_message(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error", resp.json())
        return str(err.get("message", err) if isinstance(err, dict) else err)[:500]
    except (ValueError, AttributeError):
        return resp.text[:500]

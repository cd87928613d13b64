"""OpenAI-compatible chat backend (OpenAI, DeepSeek, vLLM serve, SGLang, ...), asynchronous inside.

``OpenAIBackend.generate`` is a plain (sync) generator: an asyncio loop in a background thread
sends up to ``concurrency`` requests at once with ``httpx.AsyncClient`` and hands each completion
back through a queue as it finishes, so the stage writes it before the next one is awaited.
A request's slot is freed only when the caller takes its completion, so at most ``concurrency``
completions are in flight or waiting: a crash loses at most that many paid answers.

Contract:
- ``POST {base_url}/chat/completions`` with ``model``, ``messages``, ``temperature``, ``top_p``,
  ``max_tokens``, ``stop`` (when non-empty), ``seed`` (the request's), ``n=1``, then
  ``extra_body`` (a ``None`` value removes a field, e.g. ``{"max_tokens": None,
  "max_completion_tokens": 4096}`` for o-series models).
- A prefill is sent as a final assistant message holding it, plus ``prefill_body`` on those
  requests only (vLLM: ``{"continue_final_message": True, "add_generation_prompt": False}``);
  ``Completion.text`` is what the server returns, i.e. the continuation.
- Retried, with exponential backoff and jitter (``backoff * 2**attempt``, capped at
  ``max_backoff``, between half and all of it): 408/409/425/429 and 5xx, timeouts (``timeout``
  seconds for the whole attempt), dropped connections and malformed JSON bodies.
  ``Retry-After`` (seconds or HTTP-date) and ``retry-after-ms`` replace the backoff when given.
  Other statuses (400, 401, 403, 404, 422, ...) raise ``OpenAIError`` with the server's message
  at once; so does the last failure after ``max_retries`` retries. ``generate`` then stops the
  other requests; completions already handed back stay valid (a rerun resumes after them).
- Keys: ``$api_key_env`` may hold several keys separated by commas; attempts use them in turn.
  Without a key, a server on localhost gets ``EMPTY``; any other URL raises naming the variable.
- Rate limits (token buckets, each holding one second of its budget): ``rpm`` requests and
  ``tpm`` tokens per minute. An attempt is charged ``len(request body)/4 + max_tokens`` tokens,
  corrected to the reported usage on success and refunded when the server answers with an error.
- ``Completion``: ``text`` = ``message.content``; ``reasoning`` = ``message.reasoning_content``
  (or ``message.reasoning``); ``finish_reason`` "length" or "stop" (the server's own value in
  ``extra["raw_finish_reason"]`` when neither); tokens from ``usage`` (else chars/4, with
  ``extra["usage_estimated"]``); ``seconds`` from first attempt to answer; ``extra["attempts"]``.
  ``self.usage`` sums successful answers only; the stage prices them with
  ``Ledger.tokens(c.prompt_tokens, c.completion_tokens, api_model=backend.model)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import queue
import random
import threading
import time
from collections.abc import Iterable, Iterator
from urllib.parse import urlparse

import httpx

from skyt1.backends.base import Closing, Completion, Request, SamplingParams
from skyt1.backends.openai_http import _Bucket, _retry_after, _server_message, _within

__all__ = ["OpenAIBackend", "OpenAIError"]

_RETRY_STATUS = {408, 409, 425, 429}
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
_DONE = object()


class OpenAIError(RuntimeError):
    """A request that cannot succeed: a non-retryable status (``status``), or retries exhausted."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status  # the HTTP status of a non-retryable answer, else None


class OpenAIBackend(Closing):
    """Chat completions from an OpenAI-compatible server; see the module docstring for the contract."""

    @classmethod
    def from_spec(cls, spec, threads: int | None = None) -> OpenAIBackend:
        """The embedded model's name is sent as its cached checkpoint's path, which a local
        ``transformers serve`` loads on request (as it loads any model named by path)."""
        from skyt1.backends import resolve_model_path

        return cls(resolve_model_path(spec.model), **spec.args)

    def __init__(self, model: str, base_url: str = "https://api.openai.com/v1", api_key_env: str = "OPENAI_API_KEY",
                 concurrency: int = 16, max_retries: int = 8, timeout: float = 600, rpm: float | None = None,
                 tpm: float | None = None, extra_body: dict | None = None, prefill_body: dict | None = None,
                 backoff: float = 1.0, max_backoff: float = 60.0):
        self.model, self.url = model, base_url.rstrip("/") + "/chat/completions"
        self.concurrency, self.max_retries, self.timeout = max(1, int(concurrency)), max_retries, timeout
        self.extra_body, self.prefill_body = dict(extra_body or {}), dict(prefill_body or {})
        self.backoff, self.max_backoff = backoff, max_backoff
        keys = [k.strip() for k in os.environ.get(api_key_env, "").split(",") if k.strip()]
        if not keys:
            if (urlparse(base_url).hostname or "") not in _LOCAL_HOSTS:
                raise OpenAIError(f"no API key for {base_url}: set ${api_key_env} "
                                  "(several keys may be given, separated by commas)")
            keys = ["EMPTY"]
        self.api_key_env, self._keys = api_key_env, itertools.cycle(keys)
        self._rpm, self._tpm = (_Bucket(rpm) if rpm else None), (_Bucket(tpm) if tpm else None)
        self.usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "retries": 0}

    def generate(self, requests: Iterable[Request], params: SamplingParams) -> Iterator[tuple[Request, Completion]]:
        """Yield ``(request, completion)`` as each finishes, in any order; raise ``OpenAIError``
        on the first request that cannot succeed. Closing the generator early cancels the rest."""
        out: queue.Queue = queue.Queue()
        loop = asyncio.new_event_loop()
        sem = asyncio.Semaphore(self.concurrency)
        task = loop.create_task(self._run(iter(requests), params, out, sem))

        def run() -> None:
            try:
                loop.run_until_complete(task)
            except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                out.put(e)
            finally:
                out.put(_DONE)
                loop.close()

        thread = threading.Thread(target=run, daemon=True, name=f"openai-{self.model}")
        thread.start()
        try:
            while (item := out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                with contextlib.suppress(RuntimeError):  # RuntimeError: the loop has finished
                    loop.call_soon_threadsafe(sem.release)
                yield item
        finally:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(task.cancel)
            thread.join()

    async def _run(self, it: Iterator[Request], params: SamplingParams, out: queue.Queue,
                   sem: asyncio.Semaphore) -> None:
        failure: list[BaseException] = []
        tasks: set[asyncio.Task] = set()
        locks = (asyncio.Lock(), asyncio.Lock())

        async def one(clients: list[httpx.AsyncClient], req: Request) -> None:
            try:
                out.put((req, await self._call(clients, req, params, locks)))
            except asyncio.CancelledError:
                sem.release()  # on success the consumer releases, when it takes the completion
                raise
            except Exception as e:  # noqa: BLE001 - the first failure ends the run, raised by _run
                sem.release()
                if not failure:
                    failure.append(e)
                    for t in tasks - {asyncio.current_task()}:
                        t.cancel()

        # One client per slot, each with one connection: httpcore's pool slows down sharply with
        # many connections in one client (encode/httpx#3215); shards keep the cost per request flat.
        ssl_ctx = httpx.create_ssl_context()
        clients = [httpx.AsyncClient(timeout=self.timeout, verify=ssl_ctx, limits=httpx.Limits(max_connections=1))
                   for _ in range(self.concurrency)]
        try:
            for req in it:
                await sem.acquire()
                if failure:
                    break
                tasks.add(t := asyncio.create_task(one(clients, req)))
                t.add_done_callback(tasks.discard)
            if tasks:
                await asyncio.wait(set(tasks))
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)
        if failure:
            raise failure[0]

    def _payload(self, req: Request, params: SamplingParams) -> bytes:
        messages = list(req.messages) + ([{"role": "assistant", "content": req.prefill}] if req.prefill else [])
        body = {"model": self.model, "messages": messages, "temperature": params.temperature, "top_p": params.top_p,
                "max_tokens": params.max_tokens, "stop": list(params.stop) or None, "seed": req.seed, "n": 1}
        body.update(self.extra_body)
        body.update(self.prefill_body if req.prefill else {})
        return json.dumps({k: v for k, v in body.items() if v is not None}).encode()

    async def _call(self, clients: list[httpx.AsyncClient], req: Request, params: SamplingParams,
                    locks: tuple[asyncio.Lock, asyncio.Lock]) -> Completion:
        body = self._payload(req, params)
        estimate = len(body) / 4 + params.max_tokens
        t0 = time.monotonic()
        for attempt in range(self.max_retries + 1):
            if self._rpm:
                await self._rpm.take(1, locks[0])
            if self._tpm:
                await self._tpm.take(estimate, locks[1])
            client = clients.pop()  # never empty: attempts in flight <= slots == clients
            try:
                done, error, retry_after = await self._attempt(client, body, t0, attempt, estimate)
            finally:
                clients.append(client)
            if done is not None:
                if self._tpm:
                    self._tpm.give(estimate - done.prompt_tokens - done.completion_tokens)
                for k, v in (("requests", 1), ("prompt_tokens", done.prompt_tokens),
                             ("completion_tokens", done.completion_tokens)):
                    self.usage[k] += v
                return done
            if attempt == self.max_retries:
                raise OpenAIError(f"gave up after {attempt + 1} attempts; last: {error}")
            self.usage["retries"] += 1
            d = min(self.max_backoff, self.backoff * 2**attempt)
            wait = random.uniform(d / 2, d) if retry_after is None else retry_after + random.uniform(0, 0.1)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _attempt(self, client: httpx.AsyncClient, body: bytes, t0: float, attempt: int,
                       estimate: float) -> tuple[Completion | None, str, float | None]:
        """One HTTP attempt: ``(completion, "", None)`` or ``(None, error, retry_after)`` when it
        may be retried; raises ``OpenAIError`` when it may not."""
        key = next(self._keys)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        try:
            resp = await _within(self.timeout, client.post(self.url, content=body, headers=headers))
        except (httpx.TimeoutException, asyncio.TimeoutError):
            return None, f"no answer within {self.timeout}s", None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as e:
            raise OpenAIError(f"cannot send to {self.url}: {type(e).__name__}: {e}") from e
        except httpx.TransportError as e:
            return None, f"connection failed: {type(e).__name__}: {e}", None
        if resp.status_code == 200:
            try:
                return self._completion(resp.json(), body, t0, attempt + 1), "", None
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
                return None, f"malformed answer ({type(e).__name__}: {e}): {resp.text[:200]!r}", None
        if self._tpm:
            self._tpm.give(estimate)  # an error answer used no tokens
        error = f"HTTP {resp.status_code} from {self.url}: {_server_message(resp)}"
        if resp.status_code not in _RETRY_STATUS and resp.status_code < 500:
            hint = f" (key ...{key[-4:]} from ${self.api_key_env})" if resp.status_code in (401, 403) else ""
            raise OpenAIError(error + hint, resp.status_code)
        return None, error, _retry_after(resp.headers)

    def _completion(self, data: dict, body: bytes, t0: float, attempts: int) -> Completion:
        msg = data["choices"][0]["message"]
        raw = data["choices"][0].get("finish_reason")
        text = msg.get("content") or ""
        usage, extra = data.get("usage") or {}, {"attempts": attempts}
        if raw not in ("stop", "length"):
            extra["raw_finish_reason"] = raw
        if "prompt_tokens" not in usage:
            extra["usage_estimated"] = True
        return Completion(text=text, finish_reason="length" if raw == "length" else "stop",
                          prompt_tokens=int(usage.get("prompt_tokens", len(body) // 4)),
                          completion_tokens=int(usage.get("completion_tokens", len(text) // 4)),
                          seconds=time.monotonic() - t0,
                          reasoning=msg.get("reasoning_content") or msg.get("reasoning"), extra=extra)

    def close(self) -> None:
        """Nothing to release: each ``generate`` call owns its loop and connections."""

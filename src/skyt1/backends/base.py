"""The backend protocol: chat requests in, completions out.

Every generator (embedded, transformers, OpenAI-compatible, vLLM, Ray) implements
``Backend.generate``. A request is one *sample*: the generate stage expands n samples per
problem into n requests, each with its own key and seed, so that resuming after a crash
is exact at the level of single samples whatever the backend batches internally.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["SamplingParams", "Request", "Completion", "Backend", "Closing"]


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    seed: int = 0


@dataclass
class Request:
    """One sample to draw. ``key`` is opaque to the backend and returned unchanged."""

    key: tuple
    messages: list[dict]
    seed: int = 0
    prefill: str = ""  # text the assistant turn starts with (continued, not repeated)


@dataclass
class Completion:
    text: str
    finish_reason: str  # "stop" (EOS or a stop string) | "length" (hit max_tokens) | "error"
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    reasoning: str | None = None  # a reasoning API's separate `reasoning_content`
    extra: dict = field(default_factory=dict)


class Backend(Protocol):
    """``model`` names what generated a sample (recorded in each sample's ``model`` field)."""

    model: str

    def generate(self, requests: Iterable[Request], params: SamplingParams) -> Iterator[tuple[Request, Completion]]:
        """Yield ``(request, completion)`` as each finishes, in any order."""
        ...

    def close(self) -> None: ...


class Closing:
    """``with make_backend(spec) as backend: ...`` closes the backend however the block ends."""

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - each backend overrides it
        pass

"""Backends behind one protocol (``base.py``), kept in one registry: ``BACKENDS``.

Adding a backend is one module with a class that has ``from_spec(spec, threads)``, ``generate``
and ``close``, plus one ``BackendInfo`` line below; the recipe schema's allowed values, the CLI
help, Ray's inner backends and pricing (``bills_tokens``) all derive from this table. Each class
is imported only when a spec names it, so ``skyt1 --help`` never loads torch or vLLM.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from skyt1.backends.base import Backend
    from skyt1.config import ModelSpec

__all__ = ["BACKENDS", "BackendInfo", "backend_help", "bills_tokens", "make_backend", "resolve_model_path"]


@dataclass(frozen=True)
class BackendInfo:
    target: str  # "module:Class"; the class has from_spec(spec, threads)
    help: str
    bills_tokens: bool = False  # priced per token from ``prices.api`` (an API), not by the hour
    local: bool = False  # loads the weights in this process: the model must be a path, hub id or the embedded one
    in_ray: bool = True  # may run inside Ray workers (``backend: ray``, ``args.inner``)


BACKENDS: dict[str, BackendInfo] = {
    "embedded": BackendInfo("skyt1.backends.transformers:TransformersBackend",
                            "the embedded SmolLM2-135M-Instruct, on this CPU", local=True),
    "transformers": BackendInfo("skyt1.backends.transformers:TransformersBackend",
                                "a local or hub model through transformers (CPU engine, or HF generate on GPU)",
                                local=True),
    "openai": BackendInfo("skyt1.backends.openai:OpenAIBackend",
                          "any OpenAI-compatible server (OpenAI, DeepSeek, vLLM serve, transformers serve)",
                          bills_tokens=True),
    "vllm": BackendInfo("skyt1.backends.vllm:VLLMBackend", "vLLM on this machine's GPUs", local=True),
    "ray": BackendInfo("skyt1.backends.ray:RayBackend",
                       "shards of requests on a Ray cluster (args.inner: another backend)", in_ray=False),
}


def backend_help() -> str:
    """``embedded | transformers | ...`` for CLI help."""
    return " | ".join(BACKENDS)


def bills_tokens(spec: ModelSpec) -> bool:
    """Whether ``spec``'s tokens are priced from ``prices.api`` (the model name is the price key)."""
    return BACKENDS[spec.backend].bills_tokens


def resolve_model_path(model: str) -> str:
    """The embedded model's name maps to its cached local checkpoint; anything else is unchanged."""
    from skyt1.backends.embedded import embedded_model_path, is_embedded

    return str(embedded_model_path()) if is_embedded(model) else model


def make_backend(spec: ModelSpec, threads: int | None = None) -> Backend:
    """The backend ``spec`` names, loaded; use it as a context manager (or call ``close``) so GPU
    memory, Ray actors and HTTP clients do not outlive the work."""
    if spec.backend not in BACKENDS:
        raise ValueError(f"unknown backend {spec.backend!r}; known: {backend_help()}")
    module, cls = BACKENDS[spec.backend].target.split(":")
    return getattr(importlib.import_module(module), cls).from_spec(spec, threads)

"""What every config section shares: the strict base model, a model behind a backend, sampling,
and the bundled prompts a recipe names by preset."""

from __future__ import annotations

from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from skyt1.backends import BACKENDS, backend_help

__all__ = ["ConfigError", "ModelSpec", "Sampling", "rewrite_prompt_text", "system_prompt_text"]


class ConfigError(ValueError):
    """A recipe that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSpec(_Strict):
    """A model behind a backend: the teacher, the rewriter, the student or a model under evaluation."""

    backend: str = Field("embedded", description="a key of skyt1.backends.BACKENDS: " + backend_help())
    model: str = Field(
        "smollm2-135m-instruct", description="local path, hub id, API model name, or the embedded model"
    )
    system_prompt: str | None = Field(None, description="system prompt text, or a preset name: 'sky-t1', 'none'")
    batch_size: int = Field(32, ge=1, description="requests per forward batch (local backends)")
    args: dict[str, Any] = Field(
        default_factory=dict, description="backend arguments (base_url, tensor_parallel_size, ...)"
    )
    revision: str | None = Field(
        None, description="a tag or hash of the weights; in the config hash, so new weights re-evaluate"
    )

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in BACKENDS:
            raise ValueError(f"unknown backend {value!r}; known: {backend_help()}")
        return value


class Sampling(_Strict):
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(512, ge=1)
    n: int = Field(1, ge=1, description="samples per problem")
    stop: list[str] = Field(default_factory=list)
    seed: int = 0


def _bundled_prompt(name: str) -> str:
    return (resources.files("skyt1") / "data" / "prompts" / name).read_text(encoding="utf-8")


def system_prompt_text(spec: str | None) -> str | None:
    """A system prompt from its text or a preset: 'sky-t1' (verbatim from SkyThought), 'none'."""
    if spec is None or spec == "none":
        return None
    if spec == "sky-t1":
        return _bundled_prompt("sky_t1_system_prompt.txt")
    return spec


def rewrite_prompt_text(spec: str | None) -> str | None:
    """A rewrite prompt from its text or a preset: 'sky-t1', the prompt SkyThought sent GPT-4o-mini to
    put QwQ traces into the thought/solution format (``convert_prompt`` with ``convert_prompt_example``
    filled in, verbatim from NovaSky-AI/SkyThought scripts/prompts.py, first released as
    skythought/tools/util/prompts.py; Apache-2.0), its ``{content}`` as ``{response}``."""
    if spec == "sky-t1":
        return _bundled_prompt("sky_t1_rewrite_prompt.txt")
    return spec

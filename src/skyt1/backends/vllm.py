"""Offline generation with vLLM on CUDA GPUs (the optional extra ``skyt1[vllm]``).

vLLM is imported when a ``VLLMBackend`` is made, never before, so the rest of skyt1 works
without it; without it, making one raises ``ImportError`` saying how to install it.

Contract:
- ``VLLMBackend(model, **args)``: ``model`` is a local path or a hub id. ``args`` are vLLM
  engine arguments passed to ``vllm.LLM`` unchanged (``tensor_parallel_size``,
  ``max_model_len``, ``gpu_memory_utilization``, ``dtype``, ``enable_prefix_caching``, ...;
  vLLM rejects unknown ones), except skyt1's own: ``chunk_size`` (requests handed to the
  engine at once, default 512) and ``name`` (the label recorded in each sample; default
  ``model``). ``revision`` is vLLM's own argument too.
- Prompts are the tokenizer's chat template with the generation prompt, plus the request's
  ``prefill`` (continued, not repeated), tokenized without added special tokens, exactly as
  ``TransformersBackend.prompt_text`` builds them; the engine gets token ids.
- Sampling: one ``vllm.SamplingParams`` per request with ``n=1``, ``temperature``, ``top_p``,
  ``max_tokens``, ``stop`` (cut from the text, OpenAI semantics) and ``seed`` (the request's:
  vLLM seeds each request on its own, so a sample does not depend on its batch).
- Results are yielded chunk by chunk, so the stage writes them as they come and a crash loses
  at most one chunk. ``finish_reason`` is vLLM's "stop" or "length"; anything else (e.g.
  "abort") becomes "error" with vLLM's value in ``extra["raw_finish_reason"]``. Token counts
  are ``len(prompt_token_ids)`` and ``len(outputs[0].token_ids)`` (EOS included, as vLLM's
  OpenAI server counts it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from skyt1.backends.base import Closing, Completion, Request, SamplingParams

__all__ = ["VLLMBackend", "VLLM_MISSING", "import_vllm", "split_args", "sampling_kwargs", "completion_from_output",
           "map_finish_reason", "chunks"]

VLLM_MISSING = "vLLM is not installed: pip install 'skyt1[vllm]' (needs a CUDA GPU)"
DEFAULT_CHUNK_SIZE = 512
_OWN_ARGS = ("chunk_size", "name")


def import_vllm():
    """``import vllm``, or an ``ImportError`` that says how to install it."""
    try:
        import vllm
    except ImportError as e:
        raise ImportError(f"{VLLM_MISSING} ({e})") from e
    return vllm


def split_args(model: str, args: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split backend arguments into (vLLM engine arguments with ``model``, skyt1's own)."""
    engine = {k: v for k, v in args.items() if k not in _OWN_ARGS}
    if "model" in engine and engine["model"] != model:
        raise ValueError(f"vllm: args.model={engine['model']!r} conflicts with model={model!r}; set the model once")
    own = {"chunk_size": int(args.get("chunk_size", DEFAULT_CHUNK_SIZE)), "name": args.get("name") or model}
    if own["chunk_size"] < 1:
        raise ValueError(f"vllm: chunk_size must be >= 1, got {own['chunk_size']}")
    return {**engine, "model": model}, own


def sampling_kwargs(req: Request, params: SamplingParams) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams`` for one request (one sample: n=1)."""
    kw: dict[str, Any] = {"n": 1, "temperature": params.temperature, "top_p": params.top_p,
                          "max_tokens": params.max_tokens, "seed": req.seed}
    if params.temperature == 0:
        kw["top_p"] = 1.0  # greedy: vLLM ignores top_p, but some versions reject top_p<1 with greedy
    if params.stop:
        kw["stop"] = list(params.stop)
    return kw


def map_finish_reason(reason: str | None) -> tuple[str, dict]:
    """vLLM's ``CompletionOutput.finish_reason`` -> (skyt1's "stop" | "length" | "error", extra)."""
    if reason in ("stop", "length"):
        return reason, {}
    return "error", {"raw_finish_reason": reason}


def completion_from_output(output: Any, seconds: float) -> Completion:
    """A ``Completion`` from a ``vllm.RequestOutput`` (or anything with the same fields)."""
    out = output.outputs[0]
    finish, extra = map_finish_reason(out.finish_reason)
    if getattr(out, "stop_reason", None) is not None:
        extra["stop_reason"] = out.stop_reason  # the stop string or token id that ended it
    return Completion(text=out.text, finish_reason=finish, prompt_tokens=len(output.prompt_token_ids or ()),
                      completion_tokens=len(out.token_ids or ()), seconds=seconds, extra=extra)


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class VLLMBackend(Closing):
    @classmethod
    def from_spec(cls, spec, threads: int | None = None) -> VLLMBackend:
        return cls(spec.model, **({"revision": spec.revision} if spec.revision else {}), **spec.args)

    def __init__(self, model: str, **args: Any) -> None:
        vllm = import_vllm()
        engine_args, own = split_args(model, args)
        self.model = own["name"]  # the label recorded in each sample
        self.chunk_size = own["chunk_size"]
        self.engine_args = engine_args
        self._SamplingParams = vllm.SamplingParams
        self.llm = vllm.LLM(**engine_args)
        self.tokenizer = self.llm.get_tokenizer()

    def prompt_ids(self, req: Request) -> list[int]:
        text = self.tokenizer.apply_chat_template(req.messages, add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text + req.prefill, add_special_tokens=False).input_ids

    def generate(self, requests: Iterable[Request], params: SamplingParams) -> Iterator[tuple[Request, Completion]]:
        reqs = list(requests)
        for chunk in chunks(reqs, self.chunk_size):
            t0 = time.time()
            prompts = [{"prompt_token_ids": self.prompt_ids(r)} for r in chunk]
            sampling = [self._SamplingParams(**sampling_kwargs(r, params)) for r in chunk]
            outputs = self.llm.generate(prompts, sampling, use_tqdm=False)
            seconds = (time.time() - t0) / len(chunk)
            # LLM.generate returns outputs in the order of its prompts.
            for req, output in zip(chunk, outputs):
                yield req, completion_from_output(output, seconds)

    def close(self) -> None:
        self.llm = None

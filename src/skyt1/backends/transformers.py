"""Generation with Hugging Face transformers, on CPU or CUDA.

On CPU, models the continuous-batching engine supports (``engine.py``: Llama, Qwen2, Qwen3;
the embedded model is a Llama) decode ``batch_size`` sequences at a time, each refilled as
soon as it ends and sampled with its own seed. Otherwise requests are sorted by prompt length,
batched (less padding), left-padded and sampled with ``model.generate``, one seed per batch.
Stop strings end a completion and are cut from its text (OpenAI semantics). bf16 on CUDA,
fp32 on CPU. A hub id is loaded only when the hub is reachable; with ``HF_HUB_OFFLINE=1``
only local paths and the cache work.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Iterable, Iterator

from skyt1.backends.base import Closing, Completion, Request, SamplingParams

__all__ = ["TransformersBackend"]


class TransformersBackend(Closing):
    @classmethod
    def from_spec(cls, spec, threads: int | None = None) -> TransformersBackend:
        """``embedded``: the embedded model whatever ``spec.model`` says; ``transformers``: ``spec.model``."""
        from skyt1.backends import resolve_model_path

        name = spec.model if spec.backend == "transformers" else "smollm2-135m-instruct"
        return cls(resolve_model_path(name), batch_size=spec.batch_size, threads=threads, name=name,
                   revision=spec.revision, **spec.args)

    def __init__(self, model: str, *, batch_size: int = 32, device: str | None = None, dtype: str | None = None,
                 threads: int | None = None, name: str | None = None, revision: str | None = None,
                 continuous_batching: bool | None = None) -> None:
        """``continuous_batching``: None uses the engine on CPU when it supports the model."""
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from skyt1.backends.engine import Engine, unsupported_reason

        if threads:
            torch.set_num_threads(threads)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device == "cuda" else torch.float32)
        # A hub revision pins hub weights; for a local directory it is only a label (ignored here).
        hub = {"revision": revision} if revision and not Path(model).exists() else {}
        self.tokenizer = AutoTokenizer.from_pretrained(model, padding_side="left", **hub)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # device_map places weights straight on the GPU (no full copy in host RAM first).
        self.lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype, device_map=self.device, **hub).eval()
        self.lm.generation_config.pad_token_id = self.tokenizer.pad_token_id
        eos = self.lm.generation_config.eos_token_id
        # Every end-of-turn id the model may stop on (Qwen2.5: <|im_end|> and <|endoftext|>).
        model_eos = eos if isinstance(eos, list) else [eos] if eos is not None else []
        self.eos_ids = set(model_eos) | {self.tokenizer.eos_token_id}
        self.batch_size = batch_size
        self.model = name or model  # the label recorded in each sample
        reason = unsupported_reason(self.lm.config)
        if continuous_batching and reason:
            raise ValueError(f"continuous_batching: {model} cannot use the engine: it does not support {reason}")
        if continuous_batching is None:
            continuous_batching = self.device == "cpu" and reason is None
        self.engine = Engine(self.lm, self.eos_ids, slots=batch_size, pad_id=self.tokenizer.pad_token_id) \
            if continuous_batching else None

    def prompt_text(self, req: Request) -> str:
        text = self.tokenizer.apply_chat_template(req.messages, add_generation_prompt=True, tokenize=False)
        return text + req.prefill

    def generate(self, requests: Iterable[Request], params: SamplingParams) -> Iterator[tuple[Request, Completion]]:
        import torch

        reqs = list(requests)
        texts = [self.prompt_text(r) for r in reqs]
        if self.engine is not None:
            yield from self._generate_continuous(reqs, texts, params)
            return
        lengths = [len(self.tokenizer(t, add_special_tokens=False).input_ids) for t in texts]
        order = sorted(range(len(reqs)), key=lambda i: lengths[i])
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            t0 = time.time()
            enc = self.tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False)
            enc = enc.to(self.device)
            # One seed per batch: which samples share a batch is deterministic for a given
            # set of pending requests, so a rerun over the same work reproduces it.
            torch.manual_seed(params.seed * 1_000_003 + reqs[idx[0]].seed)
            kwargs = dict(max_new_tokens=params.max_tokens, pad_token_id=self.tokenizer.pad_token_id)
            if params.temperature > 0:
                kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=0)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if params.stop:
                kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
            with torch.inference_mode():
                out = self.lm.generate(**enc, **kwargs)
            new = out[:, enc.input_ids.shape[1] :].tolist()
            seconds = (time.time() - t0) / len(idx)
            for row, i in zip(new, idx):
                yield reqs[i], self._completion(row, lengths[i], params, seconds)

    def _generate_continuous(self, reqs: list[Request], texts: list[str], params: SamplingParams):
        prompts = [self.tokenizer(t, add_special_tokens=False).input_ids for t in texts]
        seeds = [params.seed * 1_000_003 + r.seed for r in reqs]
        for i, ids, at_limit, seconds in self.engine.run(prompts, seeds, max_tokens=params.max_tokens,
                                                         temperature=params.temperature, top_p=params.top_p,
                                                         stopped=self._stop_check(params.stop)):
            yield reqs[i], self._completion(ids, len(prompts[i]), params, seconds, at_limit=at_limit)

    def _stop_check(self, stops: tuple[str, ...]):
        """Whether generated ids end in a stop string (None without stop strings)."""
        if not stops:
            return None
        tail = max(map(len, stops)) + 4  # a stop string of k characters spans at most k tokens, plus partial bytes

        def stopped(ids: list[int]) -> bool:
            text = self.tokenizer.decode(ids[-tail:], skip_special_tokens=True)
            return any(s in text for s in stops)

        return stopped

    def _completion(self, ids: list[int], prompt_tokens: int, params: SamplingParams, seconds: float,
                    at_limit: bool | None = None) -> Completion:
        """Cut at the first end-of-turn id; "length" only when the token limit was really reached
        (``at_limit`` says so when the limit was the model's context rather than max_tokens)."""
        end = next((j for j, t in enumerate(ids) if t in self.eos_ids), None)
        if end is not None:
            text_ids, used, finish = ids[:end], end + 1, "stop"
        else:
            pad = self.tokenizer.pad_token_id
            while ids and ids[-1] == pad:  # only when pad is not an end-of-turn id (checked above)
                ids = ids[:-1]
            text_ids, used = ids, len(ids)
            reached = used >= params.max_tokens if at_limit is None else at_limit
            finish = "length" if reached else "stop"  # a stop string ended it early
        text = self.tokenizer.decode(text_ids, skip_special_tokens=True)
        for s in params.stop:
            cut = text.find(s)
            if cut >= 0:
                text, finish = text[:cut], "stop"
        return Completion(text=text, finish_reason=finish, prompt_tokens=prompt_tokens,
                          completion_tokens=min(used, params.max_tokens), seconds=seconds)

    def close(self) -> None:
        self.lm = None

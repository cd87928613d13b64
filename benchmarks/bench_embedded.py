"""Embedded backend generation throughput: tokens/s at batch 1, 8 and 32.

Usage: python benchmarks/bench_embedded.py [--threads 2] [--batches 1,8,32] [--max-tokens 64]
                                           [--dtype float32|bfloat16] [--hf-generate]

Two figures per batch size, sampling at temperature 0.8, top-p 0.95 on 2 x batch arithmetic
prompts (the tiny recipe's workload):
- *useful* tokens/s: completion tokens up to each sequence's end, through the backend. On CPU
  the backend decodes with the continuous-batching engine (``skyt1/backends/engine.py``), which
  refills a slot as soon as its sequence ends; ``--hf-generate`` measures HF ``generate``
  instead, whose padded batches run until their longest sequence ends.
- *raw* tokens/s: every sequence decodes exactly max-tokens (no end-of-turn), so every decoded
  position counts; this is the model's decoding rate at that batch size.
"""

import argparse
import time

from skyt1.backends.base import Request, SamplingParams
from skyt1.backends.embedded import embedded_model_path
from skyt1.backends.engine import Engine
from skyt1.backends.transformers import TransformersBackend
from skyt1.tasks import get_task


def _raw(backend: TransformersBackend, prompts: list[list[int]], max_tokens: int) -> float:
    """Decoding rate with every sequence running to max_tokens."""
    import torch

    t = time.time()
    if backend.engine is None:
        enc = backend.tokenizer.pad({"input_ids": prompts}, return_tensors="pt")
        with torch.inference_mode():
            backend.lm.generate(**enc, do_sample=True, temperature=0.8, top_p=0.95, top_k=0, max_new_tokens=max_tokens,
                                min_new_tokens=max_tokens, pad_token_id=backend.tokenizer.pad_token_id)
    else:
        engine = Engine(backend.lm, eos_ids=set(), slots=len(prompts))
        for _ in engine.run(prompts, range(len(prompts)), max_tokens=max_tokens, temperature=0.8, top_p=0.95):
            pass
    return len(prompts) * max_tokens / (time.time() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--dtype", default=None, help="weights and activations (default: float32 on CPU)")
    ap.add_argument("--hf-generate", action="store_true", help="HF generate instead of the engine")
    args = ap.parse_args()
    t0 = time.time()
    path = embedded_model_path()
    backend = TransformersBackend(str(path), threads=args.threads, dtype=args.dtype,
                                  continuous_batching=False if args.hf_generate else None)
    mode = "HF generate" if backend.engine is None else "continuous batching"
    print(f"load: {time.time() - t0:.1f} s (threads={args.threads}, {backend.lm.dtype}, {mode})")
    task = get_task("arithmetic")
    problems = task.problems("train")
    for bs in [int(b) for b in args.batches.split(",")]:
        backend.batch_size = bs
        if backend.engine is not None:
            backend.engine.slots = bs
        reqs = [Request(key=(p["id"], 0), messages=[{"role": "user", "content": task.render(p)}], seed=k)
                for k, p in enumerate(problems[: max(2 * bs, 4)])]
        params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=args.max_tokens)
        t = time.time()
        tokens = sum(c.completion_tokens for _, c in backend.generate(reqs, params))
        dt = time.time() - t
        prompts = [backend.tokenizer(backend.prompt_text(r), add_special_tokens=False).input_ids for r in reqs[:bs]]
        raw = _raw(backend, prompts, args.max_tokens)
        print(f"batch {bs:3d}: {len(reqs):3d} requests, {tokens:5d} useful tokens in {dt:6.1f} s = "
              f"{tokens / dt:7.1f} useful tokens/s; raw {raw:7.1f} tokens/s")


if __name__ == "__main__":
    main()

"""Transformers backend throughput on a CUDA GPU: generated tokens/s at batch 1, 8 and 32, bf16.

Usage:
    python benchmarks/bench_transformers_gpu.py [--shape 0.5b|1.5b|7b] [--model PATH]
        [--batches 1,8,32] [--max-tokens 256] [--batches-per-size 2] [--engine]

Without ``--model`` the model is Qwen2-shaped (the student's architecture: Qwen2.5 0.5B, 1.5B
or 7B layer sizes) with random weights, and the embedded model's tokenizer and chat template
(so nothing is downloaded); random weights almost never sample EOS, so every request runs to
``--max-tokens`` and the figure is pure decode throughput. ``--model`` takes any local
checkpoint instead (e.g. a downloaded Qwen2.5-7B-Instruct), whose completions stop when the
model stops. Prompts are arithmetic problems rendered as the tiny recipe renders them.

Prints the GPU, dtype, load time, then one line per batch size: requests, generated tokens,
seconds, tokens/s and peak GPU memory. A warm-up batch runs first (CUDA kernels, allocator).
On a machine without CUDA it prints why it skips and exits 0; ``--cpu`` runs a tiny shape on
the CPU in fp32 instead, to check the script itself. ``--engine`` decodes with skyt1's
continuous-batching engine (``skyt1/backends/engine.py``; the CPU default, never yet measured on a
GPU) instead of HF ``generate``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

SHAPES = {  # Qwen2.5 layer sizes (config.json of Qwen/Qwen2.5-{0.5B,1.5B,7B}-Instruct)
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, tie_word_embeddings=True),
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, tie_word_embeddings=True),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2, tie_word_embeddings=True),
    "7b": dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, tie_word_embeddings=False),
}


def random_qwen2(shape: str, out_dir: str, device: str) -> str:
    """Save a randomly initialized Qwen2 model with the embedded tokenizer; return its path."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    from skyt1.backends.embedded import embedded_model_path

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_path())
    config = Qwen2Config(vocab_size=len(tokenizer), max_position_embeddings=32768, rope_theta=1_000_000.0,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         **SHAPES[shape])
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Qwen2ForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="0.5b")
    ap.add_argument("--model", help="a local checkpoint instead of a random Qwen2-shaped model")
    ap.add_argument("--batches", default="1,8,32")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--batches-per-size", type=int, default=2, help="timed batches per batch size")
    ap.add_argument("--cpu", action="store_true",
                    help="run the tiny shape on CPU (checks the script, not a benchmark)")
    ap.add_argument("--engine", action="store_true", help="the continuous-batching engine instead of HF generate")
    args = ap.parse_args()

    import torch

    from skyt1.backends.base import Request, SamplingParams
    from skyt1.backends.transformers import TransformersBackend
    from skyt1.tasks import get_task

    if args.cpu:
        device, args.shape = "cpu", "tiny"
    elif torch.cuda.is_available():
        device = "cuda"
    else:
        print("skip: no CUDA GPU (torch.cuda.is_available() is False); this benchmark measures bf16 on a GPU. "
              "Use --cpu to check the script itself.")
        return

    with tempfile.TemporaryDirectory(prefix="skyt1-bench-") as tmp:
        t0 = time.time()
        path = args.model or random_qwen2(args.shape, tmp, device)
        backend = TransformersBackend(path, device=device, continuous_batching=args.engine)
        what = args.model or f"random Qwen2 {args.shape}"
        n_params = sum(p.numel() for p in backend.lm.parameters())
        gpu = torch.cuda.get_device_name() if device == "cuda" else "cpu"
        mode = "engine" if backend.engine is not None else "HF generate"
        print(f"model: {what} ({n_params / 1e9:.2f} B params), device: {gpu}, dtype: {backend.lm.dtype}, {mode}, "
              f"load: {time.time() - t0:.1f} s")

        task = get_task("arithmetic")
        problems = task.problems("train")
        params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=args.max_tokens)

        def requests(n: int, offset: int) -> list[Request]:
            picked = [problems[(offset + i) % len(problems)] for i in range(n)]
            return [Request(key=(p["id"], i), messages=[{"role": "user", "content": task.render(p)}], seed=i)
                    for i, p in enumerate(picked)]

        def sync() -> None:
            if device == "cuda":
                torch.cuda.synchronize()

        def set_batch(bs: int) -> None:
            backend.batch_size = bs
            if backend.engine is not None:
                backend.engine.slots = bs

        set_batch(8)
        list(backend.generate(requests(8, 0), SamplingParams(temperature=0.8, max_tokens=16)))  # warm-up
        for bs in [int(b) for b in args.batches.split(",")]:
            set_batch(bs)
            reqs = requests(bs * args.batches_per_size, bs)
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            sync()
            t = time.time()
            comps = [c for _, c in backend.generate(reqs, params)]
            sync()
            dt = time.time() - t
            tokens = sum(c.completion_tokens for c in comps)
            peak = f"{torch.cuda.max_memory_allocated() / 2**30:6.1f} GiB" if device == "cuda" else "n/a"
            print(f"batch {bs:3d}: {len(reqs):4d} requests, {tokens:7d} tokens in {dt:7.2f} s = "
                  f"{tokens / dt:9.1f} tokens/s  (peak memory {peak})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

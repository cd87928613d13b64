"""Continuous batching for decoder-only transformers, in plain PyTorch (the CPU fast path).

Hugging Face ``generate`` runs a padded batch until its longest sequence ends, so on short,
mixed-length samples about half of the decoded positions are thrown away; it also sorts the
whole vocabulary for top-p and grows its KV cache by concatenation at every step. This engine
keeps ``slots`` sequences decoding together and refills a slot with the next prompt as soon as
its sequence ends (continuous batching: Yu et al., "Orca", OSDI 2022; vLLM), writes keys and
values into a cache preallocated per slot, and samples each sequence with its own seeded
generator, so a sample's tokens do not depend on which samples shared its batch (up to float
rounding in the matrix products). The prompts' common prefix (chat template, system prompt,
instructions) is run once and its keys and values copied into each slot (prefix caching).

It reuses the model's own modules (embeddings, norms, rotary embedding, projections, MLP) and
replaces only attention's cache handling, so it covers the architectures whose attention is
rotary GQA without sliding windows: Llama (SmolLM2), Qwen2 and Qwen3.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

__all__ = ["Engine", "unsupported_reason", "sample"]

ARCHITECTURES = ("llama", "qwen2", "qwen3")
_TOP_P_CANDIDATES = 256  # the nucleus is looked for among the top 256 tokens first (exact; see sample)


def unsupported_reason(config) -> str | None:
    """Why the engine cannot run a model with this config, or None when it can."""
    if config.model_type not in ARCHITECTURES:
        return f"architecture {config.model_type!r} (the engine runs {', '.join(ARCHITECTURES)})"
    if getattr(config, "use_sliding_window", False):
        return "sliding-window attention"
    return None


def sample(logits: torch.Tensor, temperature: float, top_p: float, generators: Sequence[torch.Generator]) -> list[int]:
    """One token per row: greedy at temperature 0, else nucleus sampling with each row's generator.

    Top-p keeps the smallest set of most likely tokens whose mass reaches ``top_p`` (the token
    that crosses it included), as HF's TopPLogitsWarper and vLLM do. Sorting 49k logits per row
    costs more than a forward step of a small model, so the nucleus is taken from the top 256
    tokens whenever they hold at least ``top_p`` of the mass (then it lies inside them), and from
    a full sort otherwise. Each row draws exactly one uniform number from its generator and
    inverts its own distribution's CDF, so its token depends on nothing else in the batch.
    """
    if temperature == 0:
        return logits.argmax(-1).tolist()
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    ids = None
    if top_p < 1:
        full = probs
        probs, ids = full.topk(min(_TOP_P_CANDIDATES, full.shape[-1]), dim=-1)
        if not bool((probs.sum(-1) >= top_p).all()):
            probs, ids = full.sort(dim=-1, descending=True)
        probs = probs * ((probs.cumsum(-1) - probs) < top_p)
    cdf = probs.cumsum(-1)
    u = torch.stack([torch.rand((), generator=g) for g in generators]).to(cdf.device) * cdf[:, -1]
    picks = (cdf <= u[:, None]).sum(-1).clamp(max=probs.shape[-1] - 1)
    # A zero-probability token cannot be picked: its CDF step is empty (cdf equals the previous).
    return picks.tolist() if ids is None else ids.gather(1, picks[:, None])[:, 0].tolist()


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


class Engine:
    """Decodes many prompts through one model, ``slots`` at a time; see the module docstring."""

    def __init__(self, lm, eos_ids: set[int], *, slots: int = 32, pad_id: int = 0) -> None:
        reason = unsupported_reason(lm.config)
        if reason:
            raise ValueError(f"the continuous-batching engine does not support {reason}")
        self.lm, self.eos_ids, self.slots, self.pad_id = lm, set(eos_ids), slots, pad_id
        cfg = lm.config
        self.layers = lm.model.layers
        self.kv_heads = cfg.num_key_value_heads
        self.head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        self.max_positions = cfg.max_position_embeddings
        param = next(lm.parameters())
        self.device, self.dtype = param.device, param.dtype

    @torch.inference_mode()
    def run(
        self, prompts: Sequence[list[int]], seeds: Sequence[int], *, max_tokens: int, temperature: float,
        top_p: float, stopped: Callable[[list[int]], bool] | None = None,
    ) -> Iterator[tuple[int, list[int], bool, float]]:
        """Yield ``(prompt index, generated ids, hit the length limit, seconds)`` as each ends.

        The ids end with the end-of-turn id when the model stopped; ``stopped(ids)`` may end a
        sequence early (stop strings). The limit is ``max_tokens``, or the model's context when
        that is shorter. Seconds are the wall time of the forward passes a sequence took part in,
        shared equally among the sequences of each pass, so they add up to the run's time.
        """
        limits = self._limits(prompts, max_tokens)
        if not prompts:
            return
        n_slots = min(self.slots, len(prompts))
        start, prefix = self._allocate(prompts, limits, n_slots)
        queue = deque(sorted(range(len(prompts)), key=lambda i: len(prompts[i])))  # similar lengths prefill together
        owner: list[int | None] = [None] * n_slots  # the prompt index each slot decodes
        length = [0] * n_slots  # tokens in each slot's cache
        out: list[list[int]] = [[] for _ in range(n_slots)]
        secs = [0.0] * n_slots
        gens = [torch.Generator() for _ in range(n_slots)]
        refill_at = max(1, n_slots // 8)  # prefill a few prompts together, not one per step

        def settle(slots: list[int], tokens: list[int], seconds: float):
            """Append each slot's new token; yield and free the slots whose sequence ended."""
            for s, tok in zip(slots, tokens):
                out[s].append(tok)
                secs[s] += seconds / len(slots)
                i = owner[s]
                at_limit = len(out[s]) >= limits[i]
                if tok in self.eos_ids or at_limit or (stopped is not None and stopped(out[s])):
                    yield i, out[s], at_limit and tok not in self.eos_ids, secs[s]
                    owner[s] = None

        while True:
            free = [s for s in range(n_slots) if owner[s] is None]
            if queue and (len(free) >= refill_at or len(free) == n_slots):
                slots = free[: len(queue)]
                t0 = time.perf_counter()
                for s in slots:
                    i = owner[s] = queue.popleft()
                    length[s], out[s], secs[s] = len(prompts[i]), [], 0.0
                    gens[s].manual_seed(seeds[i])
                if start:
                    for (k, v), (pk, pv) in zip(self.cache, prefix):
                        k[slots, :, :start], v[slots, :, :start] = pk, pv
                logits = self._prefill(slots, [prompts[owner[s]] for s in slots], start)
                tokens = sample(logits, temperature, top_p, [gens[s] for s in slots])
                yield from settle(slots, tokens, time.perf_counter() - t0)
                continue
            active = [s for s in range(n_slots) if owner[s] is not None]
            if not active:
                return
            t0 = time.perf_counter()
            logits = self._decode(active, [out[s][-1] for s in active], [length[s] for s in active])
            for s in active:
                length[s] += 1
            tokens = sample(logits, temperature, top_p, [gens[s] for s in active])
            yield from settle(active, tokens, time.perf_counter() - t0)

    def _limits(self, prompts: Sequence[list[int]], max_tokens: int) -> list[int]:
        """Each prompt's token limit: ``max_tokens``, or what the model's context leaves when that is
        less. Raises ``ValueError`` on an empty prompt or one that leaves no room."""
        limits = [min(max_tokens, self.max_positions - len(p)) for p in prompts]
        for i, limit in enumerate(limits):
            if not prompts[i]:
                raise ValueError(f"prompt {i} is empty: a sequence needs at least one token to continue")
            if limit < 1:
                raise ValueError(f"a prompt of {len(prompts[i])} tokens leaves no room in the model's "
                                 f"context of {self.max_positions} tokens")
        return limits

    def _allocate(self, prompts: Sequence[list[int]], limits: list[int], n_slots: int) -> tuple[int, list]:
        """Allocate the cache of ``n_slots`` slots and run the prompts' common prefix once; return
        its length and its per-layer keys/values (copied into each slot before its prefill)."""
        # The cache starts wide enough for the prompts and doubles when a sequence outgrows it
        # (up to the longest prompt + limit), so memory follows the lengths actually reached.
        self._max_width = max(len(p) + lim for p, lim in zip(prompts, limits))
        shape = (n_slots, self.kv_heads, min(self._max_width, max(map(len, prompts)) + 256), self.head_dim)
        self.cache = [(torch.zeros(shape, dtype=self.dtype, device=self.device),
                       torch.zeros(shape, dtype=self.dtype, device=self.device)) for _ in self.layers]
        # Every prompt keeps at least one token of its own: its logits give the first sample.
        start = min(len(os.path.commonprefix(list(prompts))), min(map(len, prompts)) - 1)
        if not start:
            return 0, []
        self._forward(torch.tensor([prompts[0][:start]], device=self.device),
                      torch.arange(start, device=self.device)[None], [0])
        return start, [(k[0, :, :start].clone(), v[0, :, :start].clone()) for k, v in self.cache]

    def _prefill(self, slots: list[int], prompts: list[list[int]], start: int) -> torch.Tensor:
        """Run the prompts from ``start`` on (right-padded) into their slots' caches, which hold
        the first ``start`` tokens already; logits at each last prompt token."""
        device = self.device
        prompts = [p[start:] for p in prompts]
        t = max(map(len, prompts))
        ids = torch.tensor([p + [self.pad_id] * (t - len(p)) for p in prompts], device=device)
        pos = torch.arange(start, start + t, device=device).expand(len(prompts), t)
        # Padding writes junk at positions a sequence has not reached yet: a decode step writes
        # its own key there before any query can see it (keys are masked beyond a query's position).
        hidden = self._forward(ids, pos, slots)
        last = torch.tensor([len(p) - 1 for p in prompts], device=device)
        return self._logits(hidden[torch.arange(len(prompts), device=device), last])

    def _decode(self, slots: list[int], tokens: list[int], positions: list[int]) -> torch.Tensor:
        device = self.device
        ids, pos = torch.tensor(tokens, device=device)[:, None], torch.tensor(positions, device=device)[:, None]
        return self._logits(self._forward(ids, pos, slots)[:, -1])

    def _logits(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.lm.lm_head(self.lm.model.norm(hidden)).float()

    def _forward(self, ids: torch.Tensor, pos: torch.Tensor, slots: list[int]) -> torch.Tensor:
        """Hidden states for ``ids`` ([n, t]) at positions ``pos`` ([n, t]) of cache ``slots``."""
        model = self.lm.model
        slot_idx = torch.tensor(slots, device=ids.device)
        # With every slot busy, in order, the caches are read as views; otherwise rows are gathered.
        rows = None if slots == list(range(self.cache[0][0].shape[0])) else slot_idx
        slot_idx = slot_idx[:, None]
        x = model.embed_tokens(ids)
        cos, sin = model.rotary_emb(x, pos)
        cos, sin = cos[:, None], sin[:, None]
        span = int(pos.max()) + 1
        width = self.cache[0][0].shape[2]
        if span > width:
            grow = min(self._max_width, max(span, 2 * width)) - width
            self.cache = [tuple(F.pad(c, (0, 0, 0, grow)) for c in kv) for kv in self.cache]
        mask = (torch.arange(span, device=ids.device) <= pos[:, :, None])[:, None]  # [n, 1, t, span]
        n, t = ids.shape
        for layer, (k_cache, v_cache) in zip(self.layers, self.cache):
            attn = layer.self_attn
            h = layer.input_layernorm(x)
            q = attn.q_proj(h).view(n, t, -1, self.head_dim)
            k = attn.k_proj(h).view(n, t, -1, self.head_dim)
            v = attn.v_proj(h).view(n, t, -1, self.head_dim)
            if hasattr(attn, "q_norm"):  # Qwen3 normalizes each head before rotary embedding
                q, k = attn.q_norm(q), attn.k_norm(k)
            q, k = _rotate(q.transpose(1, 2), cos, sin), _rotate(k.transpose(1, 2), cos, sin)
            k_cache[slot_idx, :, pos] = k.transpose(1, 2)
            v_cache[slot_idx, :, pos] = v
            keys = k_cache[:, :, :span] if rows is None else k_cache[rows, :, :span]
            values = v_cache[:, :, :span] if rows is None else v_cache[rows, :, :span]
            a = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=attn.scaling, enable_gqa=True)
            x = x + attn.o_proj(a.transpose(1, 2).reshape(n, t, -1))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        return x

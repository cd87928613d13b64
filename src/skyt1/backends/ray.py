"""Generation across machines on a Ray cluster (``backend: ray``; the optional extra ``skyt1[ray]``).

``RayBackend(spec)`` runs an *inner* backend on the cluster's workers. ``spec.model``,
``spec.batch_size``, ``spec.system_prompt`` and ``spec.revision`` are the inner model's;
``spec.args`` holds the Ray settings below, and every other key is passed to the inner backend:

- ``inner``: ``"embedded"`` (default) | ``"transformers"`` | ``"openai"`` | ``"vllm"``;
- ``address``: as in ``skyt1.cluster.connect`` (``None``: a local cluster, or ``$RAY_ADDRESS``;
  ``"auto"``; ``"ray://host:10001"``). Ray is initialized only if it is not already;
- ``num_cpus``: CPUs of a local cluster started here (default: all);
- ``num_workers``: workers (default: as many as the cluster's CPUs, or GPUs, allow);
- ``num_cpus_per_worker`` (default 1; also the inner backend's torch threads),
  ``num_gpus_per_worker`` (default 0; 1 for ``transformers`` on GPUs);
- ``shard_size``: requests per task (default ``spec.batch_size``);
- ``max_retries``: restarts of a dead worker, and retries of its shard (default 1);
- ``runtime_env``: Ray runtime environment of the workers (e.g. ``{"pip": ["skyt1[vllm]"]}``,
  ``{"env_vars": {"HF_TOKEN": ...}}``); skyt1 must be importable on every node.

Inner ``vllm`` runs as Ray Data with vLLM replicas (``ray.data.llm``: one engine per
``num_workers``, each with its ``tensor_parallel_size`` GPUs; rows stream back as batches
finish). Every other inner backend runs as one actor per worker that loads the model once;
pending requests are cut into shards, each actor keeps two in flight, and a shard's samples
are yielded as soon as it finishes (``ray.wait``), so the stage writes them at once. A crash
loses at most the shards in flight: rerunning the stage submits only the missing samples.

The sample label (``model``) is the inner backend's.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from skyt1.backends.base import Closing, Completion, Request, SamplingParams
from skyt1.backends.vllm import chunks, sampling_kwargs
from skyt1.backends import BACKENDS
from skyt1.cluster import RAY_MISSING, connect
from skyt1.config import ModelSpec

__all__ = ["RayBackend", "RayOptions", "ray_options", "inner_label", "vllm_rows", "vllm_processor_kwargs",
           "completion_from_ray_row", "RAY_MISSING"]

RAY_LLM_MISSING = ("Ray Data LLM is not available: pip install 'ray[data,llm]' 'skyt1[vllm]' "
                   "(the workers need vLLM and CUDA GPUs)")
_ROW_ID = "skyt1_row"


@dataclass
class RayOptions:
    inner: str = "embedded"
    address: str | None = None
    num_cpus: int | None = None
    num_workers: int | None = None
    num_cpus_per_worker: float = 1
    num_gpus_per_worker: float | None = None
    shard_size: int | None = None
    max_retries: int = 1
    runtime_env: dict | None = None
    accelerator_type: str | None = None
    inner_args: dict = field(default_factory=dict)


def ray_options(spec: ModelSpec) -> tuple[RayOptions, ModelSpec]:
    """Split a ``backend: ray`` spec into the Ray settings and the inner backend's spec."""
    if spec.backend != "ray":
        raise ValueError(f"RayBackend needs backend 'ray', got {spec.backend!r}")
    args = dict(spec.args)
    own = {k: args.pop(k) for k in list(args) if k in RayOptions.__dataclass_fields__ and k != "inner_args"}
    opts = RayOptions(**own, inner_args=args)
    inner = [name for name, info in BACKENDS.items() if info.in_ray]
    if opts.inner not in inner:
        raise ValueError(f"ray: inner backend {opts.inner!r} is not one of {', '.join(inner)}")
    for name in ("num_workers", "shard_size"):
        value = getattr(opts, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"ray: {name} must be a positive integer, got {value!r}")
    if opts.shard_size is None:
        opts.shard_size = spec.batch_size
    inner = ModelSpec(backend=opts.inner, model=spec.model, system_prompt=spec.system_prompt,
                      batch_size=spec.batch_size, args=args, revision=spec.revision)
    return opts, inner


def inner_label(inner: ModelSpec) -> str:
    """The ``model`` label the inner backend records (as ``make_backend`` names it)."""
    if inner.backend == "embedded":
        return "smollm2-135m-instruct"
    if inner.backend == "vllm":
        return inner.args.get("name") or inner.model
    return inner.model


def _embedded_cache() -> None:
    from skyt1.backends.embedded import embedded_model_path

    embedded_model_path()


class _ShardWorker:
    """One Ray actor: the inner backend, loaded once, generating shard after shard."""

    def __init__(self, spec: dict, threads: int) -> None:
        from skyt1.backends import make_backend

        self.backend = make_backend(ModelSpec.model_validate(spec), threads=threads)

    def label(self) -> str:
        return self.backend.model

    def run(self, requests: list[Request], params: SamplingParams) -> list[tuple[int, Completion]]:
        # Keys become positions in the shard: any key survives pickling, but positions are cheaper.
        local = [Request(key=i, messages=r.messages, seed=r.seed, prefill=r.prefill) for i, r in enumerate(requests)]
        return [(req.key, comp) for req, comp in self.backend.generate(local, params)]


class RayBackend(Closing):
    @classmethod
    def from_spec(cls, spec: ModelSpec, threads: int | None = None) -> RayBackend:
        return cls(spec, threads=threads)

    def __init__(self, spec: ModelSpec, threads: int | None = None) -> None:
        self.opts, self.inner = ray_options(spec)
        self.model = inner_label(self.inner)
        self.threads = max(1, int(self.opts.num_cpus_per_worker))  # a worker's own CPUs, not the driver's
        self._workers: list = []
        self._actor_class = None
        # Dequantize the embedded model once here, not once per worker: a local cluster shares the cache.
        warm = _embedded_cache if self.inner.backend == "embedded" else None
        self._ray, self._started_ray = connect(self.opts.address, self.opts.num_cpus, before_local_start=warm)
        if self.opts.num_gpus_per_worker is None:
            gpus = self._ray.cluster_resources().get("GPU", 0)
            self.opts.num_gpus_per_worker = 1 if gpus and self.inner.backend == "transformers" else 0

    # --- cluster -----------------------------------------------------------------------

    def _num_workers(self, shards: int) -> int:
        if self.opts.num_workers is not None:
            return min(self.opts.num_workers, shards)
        res = self._ray.cluster_resources()
        if self.opts.num_gpus_per_worker:
            fit = res.get("GPU", 0) // self.opts.num_gpus_per_worker
        else:
            fit = res.get("CPU", 1) // max(self.opts.num_cpus_per_worker, 1e-3)
        return max(1, min(int(fit), shards))

    def _start_workers(self, n: int) -> list:
        ray = self._ray
        if self._actor_class is None:
            self._actor_class = ray.remote(_ShardWorker)
        while len(self._workers) < n:
            actor = self._actor_class.options(
                num_cpus=self.opts.num_cpus_per_worker, num_gpus=self.opts.num_gpus_per_worker,
                max_restarts=self.opts.max_retries, max_task_retries=self.opts.max_retries,
                runtime_env=self.opts.runtime_env,
            )
            self._workers.append(actor.remote(self.inner.model_dump(), self.threads))
        self.model = ray.get(self._workers[0].label.remote())
        return self._workers[:n]

    # --- generation --------------------------------------------------------------------

    def generate(self, requests: Iterable[Request], params: SamplingParams) -> Iterator[tuple[Request, Completion]]:
        reqs = list(requests)
        if not reqs:
            return
        if self.inner.backend == "vllm":
            yield from self._generate_ray_data_vllm(reqs, params)
        else:
            yield from self._generate_actors(reqs, params)

    def _generate_actors(self, reqs: list[Request], params: SamplingParams) -> Iterator[tuple[Request, Completion]]:
        ray = self._ray
        shards = list(chunks(reqs, self.opts.shard_size))
        workers = self._start_workers(self._num_workers(len(shards)))
        todo = deque(range(len(shards)))
        params_ref = ray.put(params)
        pending: dict = {}  # ObjectRef -> (shard index, worker)

        def submit(worker) -> None:
            if todo:
                i = todo.popleft()
                pending[worker.run.remote(shards[i], params_ref)] = (i, worker)

        try:
            for _ in range(2):  # two shards per worker: the next one is queued while one runs
                for w in workers:
                    submit(w)
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                i, worker = pending.pop(ref)
                results = ray.get(ref)
                submit(worker)
                for pos, comp in results:
                    yield shards[i][pos], comp
        finally:
            for ref in pending:  # the caller stopped early or a shard failed: drop queued work
                with contextlib.suppress(Exception):  # best effort: a finished task cannot be cancelled
                    ray.cancel(ref)

    def _generate_ray_data_vllm(
        self, reqs: list[Request], params: SamplingParams,
    ) -> Iterator[tuple[Request, Completion]]:
        ray = self._ray
        try:
            from ray.data import llm as ray_llm
        except ImportError as e:
            raise ImportError(f"{RAY_LLM_MISSING} ({e})") from e
        if not ray.cluster_resources().get("GPU"):
            import warnings

            warnings.warn("ray: inner vllm needs GPUs, and the cluster has none now; "
                          "waiting for an autoscaler to add them", stacklevel=2)
        config = ray_llm.vLLMEngineProcessorConfig(
            **vllm_processor_kwargs(self.inner, self.opts, ray_llm.vLLMEngineProcessorConfig.model_fields))
        build = getattr(ray_llm, "build_processor", None) or ray_llm.build_llm_processor  # Ray < 2.5x
        processor = build(config, postprocess=_keep_output_columns)
        ds = ray.data.from_items(vllm_rows(reqs, params))
        t0 = time.time()
        for n, row in enumerate(processor(ds).iter_rows(), 1):
            seconds = (time.time() - t0) / n  # wall time per sample so far (engines overlap)
            yield reqs[int(row[_ROW_ID])], completion_from_ray_row(row, params, seconds)

    def close(self) -> None:
        for w in self._workers:
            with contextlib.suppress(Exception):  # already dead
                self._ray.kill(w)
        self._workers = []
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False


# --- Ray Data + vLLM mapping (pure functions, unit-tested without vLLM) --------------------


def vllm_rows(reqs: Sequence[Request], params: SamplingParams) -> list[dict]:
    """Input rows of the Ray Data vLLM processor: OpenAI-style ``messages`` (a prefill is a final
    assistant message, which Ray's chat-template stage continues) and per-row ``sampling_params``."""
    rows = []
    for i, r in enumerate(reqs):
        messages = [{"role": m["role"], "content": m["content"]} for m in r.messages]
        if r.prefill:
            messages.append({"role": "assistant", "content": r.prefill})
        rows.append({_ROW_ID: i, "messages": messages, "sampling_params": sampling_kwargs(r, params)})
    return rows


def vllm_processor_kwargs(inner: ModelSpec, opts: RayOptions, fields: Iterable[str] = ()) -> dict:
    """Keyword arguments of ``ray.data.llm.vLLMEngineProcessorConfig``. ``fields`` are the
    config's field names, to pick the spelling of this Ray version."""
    from skyt1.backends.vllm import split_args

    engine, _ = split_args(inner.model, inner.args)
    engine.pop("model")
    if inner.revision and "revision" not in engine:
        engine["revision"] = inner.revision
    kw: dict[str, Any] = {"model_source": inner.model, "engine_kwargs": engine,
                          "concurrency": opts.num_workers or 1, "batch_size": opts.shard_size or inner.batch_size}
    if opts.accelerator_type:
        kw["accelerator_type"] = opts.accelerator_type
    if opts.runtime_env:
        kw["runtime_env"] = opts.runtime_env
    # vLLM's own text already has stop strings cut; Ray's detokenize stage would re-decode the
    # token ids and put them back, so it is turned off.
    kw["detokenize_stage" if "detokenize_stage" in set(fields) else "detokenize"] = False
    return kw


def _keep_output_columns(row: dict) -> dict:
    return {k: row.get(k) for k in (_ROW_ID, "generated_text", "num_input_tokens", "num_generated_tokens")}


def completion_from_ray_row(row: dict, params: SamplingParams, seconds: float) -> Completion:
    """A ``Completion`` from an output row of the Ray Data vLLM processor. Ray's rows carry no
    finish reason: hitting ``max_tokens`` is "length", anything earlier "stop"."""
    text = row.get("generated_text") or ""
    for s in params.stop:
        cut = text.find(s)
        if cut >= 0:
            text = text[:cut]
    n = int(row.get("num_generated_tokens") or 0)
    return Completion(text=text, finish_reason="length" if n >= params.max_tokens else "stop",
                      prompt_tokens=int(row.get("num_input_tokens") or 0), completion_tokens=n,
                      seconds=seconds, extra={"finish_reason_inferred": True})

"""The heavy per-problem work of curation (MinHash signatures, benchmark checks), run on the
problems of one batch, in this process or as Ray tasks over shards.

- ``problem_features(questions, num_perm)`` -> ``[(text_key, signature, numbers_key)]``
  (``skyt1.curation.dedup``);
- ``contamination(questions, benchmarks, min_overlap)`` -> ``[None | hit]``
  (``Decontaminator.check``; the index is built once per process and benchmark list);
- ``Mapper(ray)``: ``mapper(fn, items, *args)`` is ``fn(items, *args)`` here, or with ``ray``
  (a ``RayScoring``: address, CPUs, ``shard_size``, ``runtime_env``) the same function on shards
  of ``items`` as Ray tasks, results concatenated in order. Both functions are deterministic
  (seeded permutations, no process-dependent hashing), so the results equal local ones. The
  mapper joins or starts a cluster on first use (``skyt1.cluster.connect``) and ``close()``
  shuts down only a cluster it started.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["Mapper", "contamination", "decontaminator", "problem_features"]


def problem_features(questions: list[str], num_perm: int = 128) -> list[tuple]:
    from skyt1.curation.dedup import features

    return [features(q, num_perm) for q in questions]


@lru_cache(maxsize=4)
def decontaminator(benchmarks: tuple[str, ...], min_overlap: float):
    """One ``Decontaminator`` per process for these benchmark specs."""
    from skyt1.curation.decontaminate import Decontaminator, default_benchmarks

    return Decontaminator(default_benchmarks(list(benchmarks)), min_overlap=min_overlap)


def contamination(questions: list[str], benchmarks: tuple[str, ...], min_overlap: float) -> list[dict | None]:
    decon = decontaminator(tuple(benchmarks), min_overlap)
    return [decon.check(q) for q in questions]


class Mapper:
    """Runs a shard function here or on Ray; see the module docstring."""

    def __init__(self, ray=None):
        self.cfg = ray
        self._ray, self._started, self._tasks = None, False, {}

    def __call__(self, fn, items: list, *args) -> list:
        if self.cfg is None or len(items) == 0:
            return fn(items, *args)
        ray = self._connect()
        task = self._tasks.get(fn)
        if task is None:
            task = self._tasks[fn] = ray.remote(fn).options(num_cpus=1, runtime_env=self.cfg.runtime_env,
                                                            max_retries=1)
        size = self.cfg.shard_size
        refs = [task.remote(items[i : i + size], *args) for i in range(0, len(items), size)]
        return [x for part in ray.get(refs) for x in part]

    def _connect(self):
        if self._ray is None:
            from skyt1.cluster import connect

            self._ray, self._started = connect(self.cfg.address, self.cfg.num_cpus)
        return self._ray

    def close(self) -> None:
        if self._started:
            self._ray.shutdown()
        self._ray, self._started = None, False

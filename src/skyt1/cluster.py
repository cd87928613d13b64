"""Joining or starting a Ray cluster, for generation (``backends/ray.py``) and scoring
(``stages/score.py``) across machines. Ray is the optional extra ``skyt1[ray]``.

``connect(address, num_cpus)`` initializes Ray only if it is not already (a caller's
``ray.init`` wins) and returns ``(ray, started)``; whoever started it shuts it down.
``address``: ``None`` starts a local cluster of ``num_cpus`` CPUs (or joins ``$RAY_ADDRESS``),
``"auto"`` joins the cluster this machine belongs to, ``"ray://host:10001"`` connects through
Ray Client.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["RAY_MISSING", "import_ray", "connect"]

RAY_MISSING = "Ray is not installed: pip install 'skyt1[ray]'"


def import_ray():
    try:
        import ray
    except ImportError as e:
        raise ImportError(f"{RAY_MISSING} ({e})") from e
    return ray


def connect(address: str | None = None, num_cpus: int | None = None,
            before_local_start: Callable[[], object] | None = None) -> tuple[object, bool]:
    """``before_local_start`` runs only when a local cluster is about to start (e.g. to fill a
    cache on this machine that every local worker then reads)."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    local = address is None and not os.environ.get("RAY_ADDRESS")
    kwargs: dict = {"address": address, "include_dashboard": False, "log_to_driver": False}
    if local:
        kwargs["num_cpus"] = num_cpus
        if before_local_start is not None:
            before_local_start()
    ray.init(**kwargs)
    return ray, True

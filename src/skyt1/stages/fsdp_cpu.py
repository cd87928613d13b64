"""FSDP2 on CPU ranks, so the CPU rehearsal can train through the same ``fsdp2`` config as GPUs.

Why: accelerate (1.x, ``state.py``, ``AcceleratorState.__init__``) turns an FSDP config into
``DistributedType.FSDP`` only for accelerator devices (``MULTI_GPU``, ``MULTI_XPU``, ...). Ranks on
the CPU stay ``MULTI_CPU``, and the model is silently wrapped in DDP instead. PyTorch itself shards
on the CPU: ``fully_shard`` runs over gloo. ``enable()`` promotes a ``MULTI_CPU`` state that was
given an FSDP plugin to ``FSDP``. That is the one decision accelerate skips on the CPU; everything
after it (``fsdp2_prepare_model``, sharded checkpoints, the full state dict gathered for the save)
is accelerate's own FSDP2 path.

The state has to change in two places. ``AcceleratorState`` copies ``PartialState``'s shared dict
on every construction, and later ``AcceleratorState()`` calls (the Trainer makes several) would
otherwise read ``MULTI_CPU`` back. When accelerate does the promotion itself, the state is never
``MULTI_CPU`` with a plugin, and ``enable()`` changes nothing.
"""

from __future__ import annotations

import os

__all__ = ["enable", "wanted"]

_PATCHED = False


def wanted() -> bool:
    """An FSDP config was launched (``accelerate launch`` sets ``ACCELERATE_USE_FSDP``) on a machine without CUDA."""
    if os.environ.get("ACCELERATE_USE_FSDP", "false").lower() != "true":
        return False
    import torch

    return not torch.cuda.is_available()


def enable() -> None:
    """Make accelerate keep an FSDP plugin on CPU ranks (idempotent; call before the Trainer is built)."""
    global _PATCHED
    if _PATCHED:
        return
    from accelerate.state import AcceleratorState, PartialState
    from accelerate.utils import DistributedType

    original = AcceleratorState.__init__

    def __init__(self, *args, fsdp_plugin=None, **kwargs):
        original(self, *args, fsdp_plugin=fsdp_plugin, **kwargs)
        if fsdp_plugin is not None and self.distributed_type == DistributedType.MULTI_CPU:
            self.distributed_type = DistributedType.FSDP
            self.fsdp_plugin = fsdp_plugin
            if self._mixed_precision != "no":  # as accelerate's own FSDP branch does
                fsdp_plugin.set_mixed_precision(self._mixed_precision)
            PartialState._shared_state["distributed_type"] = DistributedType.FSDP

    AcceleratorState.__init__ = __init__
    _PATCHED = True

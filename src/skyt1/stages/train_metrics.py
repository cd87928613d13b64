"""What a training run measured besides its loss: parameter counts (ZeRO-3 partitions and FSDP2
shards counted whole), each rank's share of the parameters, and MFU against the GPUs' peak."""

from __future__ import annotations

__all__ = ["mfu_summary", "n_params", "param_share", "rank_facts"]


def n_params(model) -> int:
    # under ZeRO-3 a parameter is a partition, ds_numel its full size; an FSDP2 DTensor reports its full size
    return sum(getattr(p, "ds_numel", p.numel()) for p in model.parameters())


def mfu_summary(tokens_per_second: float, model, mean_len: float, gpus: int) -> dict:
    """MFU (6N + PaLM attention at the mean sequence length) against the GPUs' dense bf16 peak."""
    if gpus == 0:
        return {}
    from skyt1.hardware import detect_gpu, mfu

    gpu = detect_gpu()
    if gpu is None:
        return {}
    conf = model.config.get_text_config()
    value = mfu(tokens_per_second, n_params(model), gpu, gpus, seq_len=max(int(mean_len), 1),
                n_layers=conf.num_hidden_layers, hidden=conf.hidden_size)
    return {"gpu": gpu, "mfu": round(value, 4)}


def rank_facts(trainer, seconds: float) -> list[dict]:
    """What every rank saw, gathered to all ranks: its rank, the world size, its training seconds,
    accelerate's distributed type (``MULTI_CPU``/``MULTI_GPU`` for DDP, ``FSDP``, ``DEEPSPEED``) and
    ``param_share``, the fraction of the model's parameters the rank holds (1 unsharded; about
    1/world under FSDP or ZeRO-3)."""
    from accelerate.utils import gather_object

    acc = trainer.accelerator
    return gather_object([{"rank": acc.process_index, "world_size": acc.num_processes, "seconds": round(seconds, 1),
                           "distributed_type": str(acc.distributed_type).rsplit(".", 1)[-1],
                           "param_share": param_share(trainer.model)}])


def param_share(model) -> float:
    """The fraction of ``model``'s parameter elements stored on this rank (FSDP2 DTensor shards,
    ZeRO-3 partitions; a plain tensor is whole)."""
    full = local = 0
    for p in model.parameters():
        full += getattr(p, "ds_numel", p.numel())
        local += p.ds_tensor.numel() if hasattr(p, "ds_tensor") else (
            p.to_local().numel() if hasattr(p, "to_local") else p.numel())
    return round(local / max(full, 1), 4)

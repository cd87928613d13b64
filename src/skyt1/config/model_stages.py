"""The model stages' config sections: train (SFT), preference (SimPO) and evaluate."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from skyt1.backends import BACKENDS, backend_help
from skyt1.config.base import ModelSpec, Sampling, _Strict

__all__ = ["BudgetForcing", "EvaluateConfig", "PreferenceConfig", "SelfConsistency", "TrainConfig"]


class TrainConfig(_Strict):
    """Supervised fine-tuning (``skyt1 train``, TRL's ``SFTTrainer``); see ``skyt1.stages.train``."""

    base: ModelSpec = Field(
        default_factory=ModelSpec,
        description="the student to fine-tune; its system_prompt (text or preset) is put in every example",
    )
    method: Literal["full", "lora"] = Field(
        "full", description="full fine-tuning, or LoRA adapters merged into the weights on save"
    )
    lora_r: int = Field(16, ge=1, description="LoRA rank")
    lora_alpha: int = Field(32, ge=1, description="LoRA scaling numerator (scale = lora_alpha / lora_r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="dropout on the LoRA input")
    epochs: float = Field(3.0, gt=0, description="passes over the data (Sky-T1-32B-Preview: 3)")
    max_steps: int | None = Field(
        None, ge=1, description="stop after N optimizer steps (overrides epochs; smoke tests)"
    )
    learning_rate: float = Field(1e-5, gt=0, description="peak learning rate (Sky-T1-32B-Preview: 1e-5)")
    per_device_batch_size: int = Field(1, ge=1, description="sequences per GPU per micro-step")
    gradient_accumulation_steps: int = Field(1, ge=1, description="micro-steps per optimizer step")
    global_batch_size: int | None = Field(
        None, ge=1, description="if set, must equal per-device x accumulation x world size"
    )
    max_seq_length: int = Field(
        16384, ge=8, description="tokens per example (longer ones are truncated); the packed row length"
    )
    warmup_ratio: float = Field(0.1, ge=0, lt=1, description="linear warmup, as a fraction of all optimizer steps")
    lr_scheduler: str = Field(
        "cosine", description="transformers scheduler name (cosine, linear, constant_with_warmup, ...)"
    )
    weight_decay: float = Field(0.0, ge=0)
    gradient_checkpointing: bool = Field(
        False, description="recompute activations in backward (long sequences on GPU)"
    )
    packing: bool = Field(
        False,
        description="BFD-pack examples into rows of max_seq_length (padding-free); the batch then "
        "counts packed rows, not examples",
    )
    padding_free: bool | None = Field(
        None,
        description="flatten each batch without padding; None: on with flash-attention "
        "and per-device batch > 1. Over-long examples are then dropped",
    )
    attn_implementation: str | None = Field(
        None,
        description="None: flash_attention_2 when flash_attn is installed and "
        "training in bf16 on CUDA, else sdpa; or any transformers name",
    )
    liger_kernel: bool | None = Field(
        None,
        description="Liger Triton kernels (RMSNorm, RoPE, SwiGLU); None: on when "
        "liger_kernel is installed and CUDA is available",
    )
    bf16: bool | None = Field(None, description="None: bf16 on GPU, fp32 on CPU")
    save_steps: int = Field(100, ge=1, description="checkpoint every N optimizer steps, for resume (Sky-T1: 100)")
    save_total_limit: int | None = Field(
        2, ge=1, description="checkpoints kept (with optimizer state, for resume); None: all"
    )
    seed: int = Field(42, description="model init (LoRA), data order and dropout")
    chat_template: str = Field(
        "tokenizer",
        description="template the examples are rendered with: 'tokenizer' (the "
        "student's own) or a bundled one, 'qwen25' (LLaMA-Factory's, "
        "as Sky-T1 trained; skyt1.chat_templates)",
    )
    ddp_timeout: int = Field(
        1800,
        ge=1,
        description="seconds a collective may wait (TrainingArguments.ddp_timeout); "
        "a ZeRO-3-offload save of a 32B model can outrun the default "
        "30 minutes (Sky-T1: 180000000)",
    )
    accelerate_config: str | None = Field(
        None,
        description="shipped name (ddp, zero3, zero3_offload, fsdp2) or a path; "
        "None: ddp when several processes train",
    )
    num_gpus: int = Field(0, ge=0, description="GPUs per node (0: none; training runs on the CPU)")
    processes: int | None = Field(
        None,
        ge=1,
        description="training processes per node (None: num_gpus, at least 1); "
        "more than one in all and skyt1 starts `accelerate launch`",
    )
    num_nodes: int = Field(1, ge=1, description="nodes; each runs `skyt1 train --machine-rank R --main-process-ip IP`")

    @field_validator("chat_template")
    @classmethod
    def _known_template(cls, value: str) -> str:
        from skyt1.chat_templates import chat_template_text

        chat_template_text(value)  # a ValueError naming the known templates
        return value

    @property
    def world_size(self) -> int:
        """Processes across all nodes: the planned world size the global batch is checked against."""
        return (self.processes or max(self.num_gpus, 1)) * self.num_nodes


class PreferenceConfig(TrainConfig):
    """Preference optimization (SimPO through TRL's ``CPOTrainer``); see ``skyt1.stages.preference``.

    Defaults are Sky-T1-32B-Flash's shipped config (NovaSky-AI/SkyThought
    skythought/train/LLaMA-Factory/examples/train_full/qwen2_full_simpo.yaml): SimPO, 1 epoch,
    lr 5e-7, beta 2.0, gamma 0.3, global batch 96. The loss is TRL's (and LLaMA-Factory's)
    ``-log sigmoid(beta * (avg logp(chosen) - avg logp(rejected)) - gamma)``, with log-probabilities
    averaged over completion tokens; ``cpo_alpha > 0`` adds that weight x the NLL of the chosen
    completion (CPO-SimPO). Packing and padding-free batches are not supported by ``CPOTrainer``.
    """

    base: ModelSpec = Field(
        default_factory=ModelSpec, description="the policy to start from (Flash: Sky-T1-32B-Preview)"
    )
    epochs: float = Field(1.0, gt=0, description="passes over the pairs (Flash: 1)")
    learning_rate: float = Field(5e-7, gt=0, description="peak learning rate (Flash: 5e-7)")
    beta: float = Field(2.0, gt=0, description="SimPO reward scale beta (Flash: 2.0)")
    gamma: float = Field(0.3, ge=0, description="SimPO target reward margin gamma (TRL simpo_gamma; Flash: 0.3)")
    cpo_alpha: float = Field(0.0, ge=0, description="weight of the chosen-NLL term; 0 is pure SimPO")
    data: str | None = Field(
        None,
        description="pairs JSONL {prompt, chosen, rejected}; None: the curate stage's <curate.name>_preference.jsonl",
    )

    @model_validator(mode="after")
    def _no_packing(self) -> PreferenceConfig:
        if self.packing or self.padding_free:
            raise ValueError("preference training supports neither packing nor padding_free")
        return self


class BudgetForcing(_Strict):
    """``evaluate.budget_forcing``: s1 budget forcing (arXiv:2501.19393, sec. 3.1), one
    evaluation per thinking budget."""

    max_thinking_tokens: list[int] = Field(
        default_factory=lambda: [256, 512, 1024], min_length=1, description="thinking budgets (>= 1), one point each"
    )
    wait_times: int = Field(0, ge=0, description="times to suppress an early end of thinking and append `wait`")
    end_think: str = Field("</think>", description="end-of-thinking delimiter (Sky-T1: <|end_of_thought|>)")
    think_start: str = Field("", description="text the thinking starts with, if the chat template lacks it")
    wait: str = Field("Wait", description="appended when the model tries to stop thinking early")
    answer_prefix: str = Field("\nFinal Answer:", description="appended after the delimiter to force the answer")
    prefix_on: Literal["always", "forced"] = Field("always", description="'forced': only when the budget ran out (s1)")
    answer_max_tokens: int | None = Field(None, ge=1, description="answer token limit (None: sampling.max_tokens)")


class SelfConsistency(_Strict):
    """``evaluate.self_consistency``: majority voting over n samples (Wang et al. 2022), maj@n
    for each n from one generation run."""

    n: list[int] = Field(
        default_factory=lambda: [1, 2, 4, 8], min_length=1, description="vote sizes (>= 1), one point each"
    )
    temperature: float = Field(0.7, ge=0, description="sampling temperature of the votes")


class EvaluateConfig(_Strict):
    """Benchmarks for the models under evaluation, and optional test-time scaling sweeps
    (``skyt1.scaling``): each sweep adds points to an accuracy-against-tokens chart."""

    tasks: list[str] = Field(default_factory=lambda: ["arithmetic"])
    split: str | None = Field("test", description="None: each task's default (last) split")
    limit: int | None = None
    models: list[str] = Field(default_factory=lambda: ["base", "trained"], description="'base' and/or 'trained'")
    backend: str | None = Field(
        None,
        description="serve base and trained through this backend: vllm on GPUs; openai "
        "for a server (vLLM serve, transformers serve) loading each model "
        "by path; None: the student's own, transformers for the trained",
    )
    backend_args: dict[str, Any] = Field(default_factory=dict, description="that backend's args, e.g. {base_url: ...}")
    sampling: Sampling = Field(default_factory=lambda: Sampling(temperature=0.0, max_tokens=512))
    budget_forcing: BudgetForcing | None = Field(None, description="a budget-forcing sweep (None: none)")
    self_consistency: SelfConsistency | None = Field(None, description="a self-consistency sweep (None: none)")

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str | None) -> str | None:
        if value is not None and value not in BACKENDS:
            raise ValueError(f"unknown backend {value!r}; known: {backend_help()}")
        return value

    @field_validator("models")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - {"base", "trained"})
        if unknown:
            raise ValueError(f"{unknown}: a recipe evaluates 'base' and/or 'trained' (other models: skyt1 evaluate)")
        return value

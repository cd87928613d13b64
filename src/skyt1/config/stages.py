"""One config section per stage: generate, score, rewrite, curate, train, preference, evaluate."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from skyt1.backends import BACKENDS, backend_help
from skyt1.config.base import ModelSpec, Sampling, _Strict, rewrite_prompt_text

__all__ = ["BudgetForcing", "CurateConfig", "EvaluateConfig", "GenerateConfig", "JudgeConfig", "PreferenceConfig",
           "RayScoring", "RewriteConfig", "SelfConsistency", "ScoreConfig", "TrainConfig"]


class GenerateConfig(_Strict):
    task: str = "arithmetic"
    source: dict[str, Any] | None = Field(
        None, description="instead of a task: a JSONL/Parquet/hub source with a field mapping (skyt1.curation.sources)"
    )
    split: str = "train"
    limit: int | None = Field(None, description="first N problems of the split (None: all)")
    sources: list[dict[str, Any]] = Field(
        default_factory=list,
        description="a mixture instead of task/source: source specs (skyt1.curation.sources), "
        "each with name, split, quota, filters and verifier; every sample records its source",
    )
    teacher: ModelSpec = Field(default_factory=ModelSpec)
    sampling: Sampling = Field(default_factory=Sampling)


class RayScoring(_Strict):
    """Scoring on a Ray cluster: shards of rows run as Ray tasks, each with its own verifier
    processes (and, for code, the bubblewrap sandbox, which every node then needs)."""

    address: str | None = Field(
        None, description="None: a local cluster (or $RAY_ADDRESS); 'auto'; 'ray://host:10001'"
    )
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local cluster started here (None: all)")
    shard_size: int = Field(64, ge=1, description="rows per Ray task")
    workers_per_shard: int = Field(1, ge=1, description="verifier processes in each task (its CPU request)")
    runtime_env: dict[str, Any] | None = Field(None, description="Ray runtime environment of the tasks")


class JudgeConfig(_Strict):
    """``score.judge``: a model asked only when the rules cannot decide (``skyt1.verifiers.llm_judge``), in the
    pipeline's score stage (rejection sampling); evaluation stays rule-graded, comparable with published scores."""

    model: ModelSpec = Field(description="the judge model, e.g. the rewriter's: {backend: openai, model: gpt-4o-mini}")
    prompt: str | None = Field(None, description="judge prompt with {question}, {gold}, {answer} (None: built-in)")
    max_tokens: int = Field(512, ge=1, description="completion limit of one judgement")


class ScoreConfig(_Strict):
    workers: int = Field(2, ge=0, description="verifier processes (0: inline, no time limit)")
    timeout: float = Field(5.0, gt=0, description="hard wall-clock limit per math/choice answer, seconds")
    code_timeout: float = Field(6.0, gt=0, description="per-test time limit for code, seconds")
    ks: list[int] = Field(default_factory=lambda: [1], description="k values for pass@k")
    ray: RayScoring | None = Field(None, description="score across a Ray cluster instead of local processes")
    judge: JudgeConfig | None = Field(None, description="LLM second opinion where rules cannot decide (off: None)")


class RewriteConfig(_Strict):
    """How correct traces become Sky-T1 thought/solution text (``skyt1.stages.rewrite``)."""

    mode: Literal["structural", "llm"] = Field("structural", description="structural formatter or an LLM rewriter")
    rewriter: ModelSpec | None = Field(
        None, description="the LLM rewriter (llm mode), e.g. {backend: openai, model: gpt-4o-mini}"
    )
    prompt: str | None = Field(
        None,
        description="rewrite prompt (llm mode), or 'sky-t1' (SkyThought's, as Sky-T1 used with GPT-4o-mini); "
        "{question} and {response} are filled in, other braces are literal (None: skyt1's own)",
    )
    max_attempts: int = Field(
        3, ge=1, description="tries per trace before it is recorded as failed (never trained on)"
    )
    max_tokens: int = Field(
        16384, ge=1, description="completion limit of one rewrite; a truncated rewrite is a failed try"
    )
    temperature: float = Field(0.3, ge=0, description="temperature of the retries (the first try is greedy)")
    min_overlap: float = Field(
        0.6, ge=0, le=1, description="share of the thought's word trigrams that must occur in the original trace"
    )
    check_answer: bool = Field(
        True, description="llm mode: the solution's \\boxed answer (or code) must be the verified one"
    )
    fallback: Literal["none", "structural"] = Field(
        "none",
        description="llm mode: a trace whose every LLM try failed is rewritten structurally ('structural') or "
        "recorded as failed ('none')",
    )

    system_prompt: str | None = Field(None, description="system message sent before the rewrite prompt (llm mode)")

    @property
    def template(self) -> str | None:
        """The prompt text: ``prompt`` itself, or the bundled one it names (``sky-t1``); None when unset."""
        return rewrite_prompt_text(self.prompt)


class CurateConfig(_Strict):
    """From rewritten verdicts to the training set (``skyt1.stages.curate``); every filter is a
    recorded step, and every optional one is off until its field is set."""

    policy: Literal["all_correct", "shortest_correct", "one_per_problem"] = "all_correct"
    dedup: bool = True
    near_dedup_threshold: float | None = Field(0.8, description="MinHash Jaccard threshold; None disables near-dedup")
    near_copy_threshold: float | None = Field(
        0.85,
        gt=0,
        le=1,
        description="drop a trace this similar (byte 8-gram Jaccard estimate) to a kept "
        "trace of the same problem (2% of its words changed: about 0.91); None: identical traces only",
    )
    decontaminate: list[str] = Field(default_factory=list, description="benchmarks as task or task:split")
    decontaminate_min_overlap: float = Field(
        0.2,
        ge=0,
        le=1,
        description="fraction of the shorter question's 8-grams that must be shared (0: any shared "
        "8-gram, the open-r1/s1 rule, flags 9% of MATH train; 0.2 flags 0.95% and finds every planted copy: "
        "benchmarks/bench_decontaminate.py)",
    )
    name: str = Field("skyt1", description="dataset name in dataset_info.json and file names")
    system_prompt: str | None = Field(None, description="system prompt written into the SFT export")
    difficulty_rater: ModelSpec | None = Field(
        None,
        description="LLM that rates problems lacking a numeric meta.difficulty on the AoPS 1-10 scale (None: no LLM)",
    )
    difficulty_prompt: str | None = Field(
        None, description="rating prompt with {question} (None: the built-in rubric)"
    )
    min_difficulty: float | None = Field(
        None, ge=0, le=10, description="drop problems rated below this; unrated ones too"
    )
    max_difficulty: float | None = Field(
        None, ge=0, le=10, description="drop problems rated above this; unrated ones too"
    )
    tokenizer: str | None = Field(
        None,
        description="tokenizer counting assistant-turn tokens: 'embedded', a path or hub id; None: characters / 4",
    )
    min_tokens: int | None = Field(None, ge=0, description="drop training examples with fewer assistant tokens")
    max_tokens: int | None = Field(None, ge=1, description="drop training examples with more assistant tokens")
    mixture: dict[str, int | float | Literal["all"]] = Field(
        default_factory=dict,
        description="group (or glob, '*' = the rest) -> count, share of the total (float) or 'all'; "
        "unnamed groups are dropped",
    )
    mixture_by: Literal["domain", "source", "domain/source"] = Field("source", description="what a mixture group is")
    mixture_unit: Literal["row", "problem"] = Field("row", description="mixture counts training rows or problems")
    mixture_total: int | None = Field(
        None, ge=1, description="size with share targets (None: the largest the pool allows)"
    )
    seed: int = Field(0, description="seed of the mixture's sampling")
    preference: bool = Field(True, description="write Sky-T1-32B-Flash preference pairs (<name>_preference.jsonl)")
    hf_dataset: bool = Field(False, description="also save a Hugging Face dataset with a card in <stage>/hf_dataset")
    push_to_hub: str | None = Field(None, description="hub repo id the HF dataset is pushed to when HF_TOKEN is set")
    card: dict[str, Any] = Field(
        default_factory=dict, description="extra dataset-card fields: description, license, ..."
    )
    histograms: bool = Field(True, description="write token-length histograms (PNG) into the stage directory")
    ray: RayScoring | None = Field(
        None,
        description="MinHash and decontamination of each batch as Ray tasks "
        "over shards (shard_size problems a task); same results as local",
    )


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

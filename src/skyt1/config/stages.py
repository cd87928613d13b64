"""The data stages' config sections: generate, score, rewrite, curate."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from skyt1.config.base import ModelSpec, Sampling, _Strict, rewrite_prompt_text

__all__ = ["CurateConfig", "GenerateConfig", "JudgeConfig", "RayScoring", "RewriteConfig", "ScoreConfig"]


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

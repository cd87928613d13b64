"""generate: n samples per problem from a backend, resumable at the level of single samples.

Input: problems (a task's split, or a JSONL of problem records). Output: ``records.jsonl`` of
samples (the problem's fields plus ``problem_id``, ``index``, ``model``, ``response``,
``finish_reason``, ``usage``, ``seconds``, and ``reasoning`` when the backend returns one).
Each sample is written the moment it exists, so a killed run loses nothing but samples in
flight; rerunning the same command generates only the missing ``(problem_id, index)`` pairs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from skyt1.backends.base import Backend, Request, SamplingParams
from skyt1.config import GenerateConfig, ModelSpec, Sampling, system_prompt_text
from skyt1.cost import Ledger
from skyt1.progress import progress
from skyt1.records import Stage
from skyt1.tasks import Task, get_task

__all__ = ["generate", "build_messages", "sample_seed", "problems_of"]


def problems_of(cfg: GenerateConfig, base_dir: Path | None = None) -> tuple[Task, list[dict]]:
    """The task (a registered one, or ``cfg.source`` with its field mapping) and its problems."""
    if cfg.source:
        from skyt1.curation.sources import source_task

        task = source_task(cfg.source, base_dir=base_dir)
    else:
        task = get_task(cfg.task)
    split = cfg.split if cfg.split in task.splits else task.splits[0]
    return task, task.problems(split, cfg.limit)


def build_messages(prompt: str, system_prompt: str | None) -> list[dict]:
    msgs = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return msgs + [{"role": "user", "content": prompt}]


def sample_seed(seed: int, problem_id: str, index: int) -> int:
    """A per-sample seed that does not depend on batching or on which samples are pending."""
    h = hashlib.sha256(f"{seed}:{problem_id}:{index}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def generate(problems: list[dict], prompts: dict[str, str], stage: Stage, *, teacher: ModelSpec,
             sampling: Sampling, backend: Backend | None = None, threads: int = 1, prices: dict | None = None) -> dict:
    """Draw ``sampling.n`` samples for each problem into ``stage``; return the summary.

    ``prompts`` maps problem id to the user message. ``backend`` may be passed in to reuse a
    loaded model; otherwise one is made from ``teacher``.
    """
    ledger = Ledger(stage="generate").start(carry=stage.spent_path)
    done = stage.done_keys(lambda r: (r["problem_id"], r["index"]))
    system = system_prompt_text(teacher.system_prompt)
    todo = [
        Request(key=(p["id"], i), messages=build_messages(prompts[p["id"]], system), seed=sample_seed(sampling.seed, p["id"], i))
        for p in problems
        for i in range(sampling.n)
        if (p["id"], i) not in done
    ]
    by_id = {p["id"]: p for p in problems}
    params = SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens,
                            stop=tuple(sampling.stop), seed=sampling.seed)
    owned = backend is None and bool(todo)
    if owned:
        from skyt1.backends import make_backend

        backend = make_backend(teacher, threads=threads)
    try:
        if todo:
            _draw(todo, by_id, backend, params, stage)
    finally:
        if owned:
            backend.close()  # Ray actors and vLLM GPU memory must not outlive the stage
    records = stage.records()
    keys = [(r["problem_id"], r["index"]) for r in records]
    if len(keys) != len(set(keys)):
        raise RuntimeError(f"{stage.records_path}: duplicate samples; the run store is corrupt")
    expected = len(problems) * sampling.n
    if len(records) != expected:
        raise RuntimeError(f"{stage.records_path}: {len(records)} samples, expected {expected}; rerun to resume")
    # Tokens come from the records, so samples paid for before a crash are counted once.
    ledger.tokens(sum(r["usage"]["prompt_tokens"] for r in records),
                  sum(r["usage"]["completion_tokens"] for r in records),
                  records[0]["model"] if records and teacher.backend == "openai" else None)
    ledger.stop(gpus=_gpus())
    summary = {
        "problems": len(problems),
        "samples": len(records),
        "generated_now": len(todo),
        "model": records[0]["model"] if records else teacher.model,
        "completion_tokens": sum(r["usage"]["completion_tokens"] for r in records),
        "truncated": sum(r["finish_reason"] == "length" for r in records),
        "sampling": sampling.model_dump(),
    }
    stage.finish(summary, ledger.to_dict(prices))
    return summary


def _draw(todo: list[Request], by_id: dict, backend: Backend, params: SamplingParams, stage: Stage) -> None:
    """Write each sample the moment the backend returns it."""
    with stage.writer() as write, progress(f"generate {len(todo)} samples", len(todo), unit="samples") as bar:
        for req, comp in backend.generate(todo, params):
            pid, index = req.key
            record = {
                **by_id[pid],
                "problem_id": pid,
                "index": index,
                "model": backend.model,
                "prompt": req.messages[-1]["content"],
                "response": comp.text,
                "finish_reason": comp.finish_reason,
                "usage": {"prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens},
                "seconds": round(comp.seconds, 4),
            }
            record.pop("id", None)
            if comp.reasoning is not None:
                record["reasoning"] = comp.reasoning
            if comp.extra:  # e.g. budget forcing's thinking/answer split, a backend's raw finish reason
                record["extra"] = comp.extra
            write(record)
            bar.advance(1, tokens=comp.completion_tokens)


def _gpus() -> int:
    try:
        import torch

        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    except ImportError:
        return 0


def problems_from_file(path: Path) -> list[dict]:
    from skyt1.records import PROBLEM_FIELDS, read_jsonl

    return list(read_jsonl(path, required=PROBLEM_FIELDS))

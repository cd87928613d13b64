"""generate: n samples per problem from a backend, resumable at the level of single samples.

Input: problems from the recipe's mixture (``generate.sources``: tasks, files or hub datasets,
each with its split, quota and verifier; or the one ``generate.task``), or a JSONL of problem
records. Output: ``records.jsonl`` of samples (the problem's fields plus ``source``, the mixture
source it came from, ``verifier``, the verifier kind that grades it, ``problem_id``, ``index``,
``model``, ``response``, ``finish_reason``, ``usage``, ``seconds``, and ``reasoning`` when the
backend returns one). The summary counts problems, samples and tokens per source (``by_source``).
Each sample is written the moment it exists, so a killed run loses nothing but samples in
flight; rerunning the same command generates only the missing ``(problem_id, index)`` pairs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from skyt1.backends import bills_tokens
from skyt1.backends.base import Backend, Request, SamplingParams
from skyt1.config import GenerateConfig, ModelSpec, Sampling, system_prompt_text
from skyt1.cost import Ledger
from skyt1.progress import progress
from skyt1.records import Stage
from skyt1.tasks import get_task

__all__ = ["generate", "build_messages", "sample_seed", "mixture", "load_mixture", "plan", "run"]


def mixture(cfg: GenerateConfig) -> list[dict]:
    """The source specs (``skyt1.curation.sources``) a generate section draws from, each with a
    ``name``: ``generate.sources``, else the one ``generate.source`` or ``generate.task``."""
    from skyt1.curation.sources import source_name

    if cfg.sources:
        if cfg.limit:
            raise ValueError("generate.limit applies to generate.task; with generate.sources give each source a quota")
        specs = [dict(s) for s in cfg.sources]
    elif cfg.source:
        specs = [{"split": cfg.split, **({"limit": cfg.limit} if cfg.limit else {}), **cfg.source}]
    else:
        specs = [{"task": cfg.task, "split": cfg.split, **({"limit": cfg.limit} if cfg.limit else {})}]
    for spec in specs:
        spec.setdefault("name", spec.get("task") or source_name(spec))
    names = [s["name"] for s in specs]
    if len(names) != len(set(names)):
        raise ValueError(f"generate.sources: names must be distinct, got {names}")
    return specs


def load_mixture(cfg: GenerateConfig, counts: dict | None = None) -> tuple[list[dict], dict[str, str]]:
    """Every source's problems, each with ``source`` and ``verifier``, and the user message of each;
    ``counts`` (when given) gets each source's ``available``, ``after_filters``, ``quota``, ``selected``."""
    from skyt1.curation.sources import source_problems

    problems, prompts = [], {}
    for spec in mixture(cfg):
        task, found = source_problems(spec, counts=counts.setdefault(spec["name"], {}) if counts is not None else None)
        for p in found:
            p = {**p, "verifier": task.verifier}
            prompts[p["id"]] = task.render(p)
            problems.append(p)
    ids = [p["id"] for p in problems]
    if len(ids) != len(set(ids)):
        raise ValueError("generate.sources: a problem comes from two sources; give them distinct names")
    return problems, prompts


def plan(recipe, *, inp: Path | None = None, out: Path | None = None) -> Stage:
    """The generate stage of ``recipe`` (``<run_dir>/generate``); ``inp``, a JSONL of problem records,
    replaces the mixture (the prompt and verifier are then ``generate.task``'s)."""
    from skyt1.curation.sources import source_task

    g = recipe.generate
    specs = [{"task": g.task, "name": g.task}] if inp else mixture(g)
    prompts = {s["name"]: source_task({k: v for k, v in s.items() if k not in ("quota", "seed")}).prompt for s in specs}
    return Stage(Path(out) if out else recipe.run_path / "generate", "generate", {**g.model_dump(), "prompts": prompts},
                 inputs=[Path(inp)] if inp else [], seed=g.sampling.seed)


def run(recipe, stage: Stage) -> dict:
    """Draw the samples ``plan`` describes (resuming); finish the stage; return its summary."""
    g = recipe.generate
    if stage.inputs:
        task = get_task(g.task)
        problems = [{"source": p["task"], **p, "verifier": task.verifier} for p in problems_from_file(stage.inputs[0])]
        prompts = {p["id"]: task.render(p) for p in problems}
    else:
        counts: dict = {}
        problems, prompts = load_mixture(g, counts)
        return generate(problems, prompts, stage, teacher=g.teacher, sampling=g.sampling, threads=recipe.threads,
                        prices=recipe.prices.model_dump(), selection=counts)
    return generate(problems, prompts, stage, teacher=g.teacher, sampling=g.sampling, threads=recipe.threads,
                    prices=recipe.prices.model_dump())


def build_messages(prompt: str, system_prompt: str | None) -> list[dict]:
    msgs = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return msgs + [{"role": "user", "content": prompt}]


def sample_seed(seed: int, problem_id: str, index: int) -> int:
    """A per-sample seed that does not depend on batching or on which samples are pending."""
    h = hashlib.sha256(f"{seed}:{problem_id}:{index}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def generate(problems: list[dict], prompts: dict[str, str], stage: Stage, *, teacher: ModelSpec,
             sampling: Sampling, backend: Backend | None = None, threads: int = 1, prices: dict | None = None,
             selection: dict | None = None) -> dict:
    """Draw ``sampling.n`` samples for each problem into ``stage``; return the summary.

    ``prompts`` maps problem id to the user message. ``backend`` may be passed in to reuse a
    loaded model; otherwise one is made from ``teacher``. ``selection`` (``load_mixture``'s
    counts) adds each source's ``available``, ``after_filters`` and ``quota`` to ``by_source``.
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
    if todo and backend is None:
        from skyt1.backends import make_backend

        with make_backend(teacher, threads=threads) as owned:  # Ray actors, vLLM GPU memory: closed after
            _draw(todo, by_id, owned, params, stage)
    elif todo:
        _draw(todo, by_id, backend, params, stage)
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
                  records[0]["model"] if records and bills_tokens(teacher) else None)
    ledger.stop(gpus=_gpus())
    summary = {
        "problems": len(problems),
        "samples": len(records),
        "generated_now": len(todo),
        "model": records[0]["model"] if records else teacher.model,
        "completion_tokens": sum(r["usage"]["completion_tokens"] for r in records),
        "truncated": sum(r["finish_reason"] == "length" for r in records),
        "sampling": sampling.model_dump(),
        "by_source": _by_source(records, selection or {}),
    }
    stage.finish(summary, ledger.to_dict(prices))
    return summary


def _by_source(records: list[dict], selection: dict[str, dict]) -> dict[str, dict]:
    def empty() -> dict:
        return {"problems": set(), "samples": 0, "completion_tokens": 0, "truncated": 0}

    out: dict[str, dict] = {name: empty() for name in selection}  # a source that kept no problem shows too
    for r in records:
        c = out.setdefault(r.get("source", r.get("task", "?")), empty())
        c["problems"].add(r["problem_id"])
        c["samples"] += 1
        c["completion_tokens"] += r["usage"]["completion_tokens"]
        c["truncated"] += r["finish_reason"] == "length"
    picked = {k: {f: c[f] for f in ("available", "after_filters", "quota") if f in c} for k, c in selection.items()}
    return {k: {**v, "problems": len(v["problems"]), **picked.get(k, {})} for k, v in sorted(out.items())}


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

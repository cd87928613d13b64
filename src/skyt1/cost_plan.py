"""The whole recipe's cost before it runs: teacher generation, scoring (and its LLM judge), the
rewriter, training and evaluation, one line each with the assumption behind it.

``recipe_plan_cost(recipe)`` returns lines ``{"stage", "what", "tokens_in", "tokens_out",
"gpu_hours", "cpu_hours", "usd", "assumption"}`` (training's tokens are ``tokens_in``; a number is
``None`` where it cannot be told);
``format_plan(lines)`` is the table ``skyt1 cost`` prints and the report shows beside the ledger.

- Tokens out of a generation are ``problems x samples x expected tokens``. The expected tokens are
  the mean measured in the recipe's run directory when a finished stage of the same model is there,
  else ``max_tokens``: an upper bound (every sample runs to the cap).
- An API model (``backend: openai``) costs its tokens at ``prices.api``. A local model costs GPU
  hours = tokens / throughput: measured in the run directory when possible, else stated: on a GPU,
  ``2 N`` FLOPs per token at ``DECODE_UTILISATION`` of the GPUs' dense bf16 peak; on the CPU, the
  embedded model's measured ``EMBEDDED_TOKENS_PER_SECOND``.
- Training is ``skyt1.estimate.estimate_training`` (6ND at the recipe's ``estimate.mfu``); without
  ``estimate.tokens_per_epoch`` its tokens are the planned kept traces' tokens (all samples: upper bound).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["DECODE_UTILISATION", "EMBEDDED_TOKENS_PER_SECOND", "format_plan", "planned_problems", "recipe_plan_cost"]

#: assumed share of dense bf16 peak that batched decoding of long traces reaches (memory-bound)
DECODE_UTILISATION = 0.10
#: the embedded model at batch 32 on 2 CPU threads (README, benchmarks/bench_embedded.py)
EMBEDDED_TOKENS_PER_SECOND = 124.8
#: assumed prompt tokens of a problem, on top of the system prompt (chars / 4)
PROMPT_TOKENS = 200
#: trained tokens/s of full fine-tuning of the embedded model on 2 CPU threads (README, the tiny run)
TRAIN_CPU_TOKENS_PER_SECOND = 84.7
#: SmolLM2-135M(-Instruct), the embedded model: Llama shape 576 x 30 layers, tied embeddings
SMOLLM2_135M = 134_515_008
#: verifier CPU seconds per sample (the tiny run: 256 math samples scored in 2.8 s on 2 workers)
SCORE_CPU_SECONDS = 0.02


def planned_problems(recipe) -> int | None:
    """Problems the teacher is asked: the sum of the mixture's quotas (or limits); None when a
    source takes a whole split, whose size is not known before it is loaded."""
    from skyt1.stages.generate import mixture

    sizes = [spec.get("quota") or spec.get("limit") for spec in mixture(recipe.generate)]
    return None if None in sizes else sum(sizes)


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _measured(stage_dir: Path, model: str) -> dict | None:
    """Mean completion tokens and tokens/s of a finished generate stage of ``model``."""
    s, m = _load(stage_dir / "summary.json"), _load(stage_dir / "manifest.json")
    if not s or not m or s.get("model") != model or not s.get("samples"):
        return None
    wall = (m.get("cost") or {}).get("wall_seconds") or 0.0
    return {"mean_tokens": s["completion_tokens"] / s["samples"],
            "tokens_per_second": s["completion_tokens"] / wall if wall > 0 else None, "where": str(stage_dir)}


def _params(model: str, recipe) -> float | None:
    from skyt1.estimate import QWEN25_32B, qwen2_params

    if any(k in model for k in ("Qwen2.5-32B", "QwQ-32B", "Sky-T1-32B")):  # fine-tunes of Qwen2.5-32B's shape
        return float(qwen2_params(**QWEN25_32B))
    if model == "smollm2-135m-instruct" or "SmolLM2-135M" in model:
        return float(SMOLLM2_135M)
    if model == recipe.train.base.model:
        return recipe.estimate.n_params
    return None


def _gpus(spec, recipe) -> int:
    return int(spec.args.get("tensor_parallel_size") or spec.args.get("num_gpus") or recipe.estimate.n_gpus)


def _decode(recipe, stage: str, what: str, spec, n_in: float, n_out: float, measured: dict | None) -> dict:
    """One generation line: API dollars, or GPU/CPU hours at a measured or stated throughput."""
    prices = recipe.prices
    line = {"stage": stage, "what": what, "tokens_in": n_in, "tokens_out": n_out,
            "gpu_hours": 0.0, "cpu_hours": 0.0, "usd": None, "assumption": ""}
    if spec.backend == "openai":
        rate = prices.api.get(spec.model)
        if rate is None:
            line["assumption"] = f"no prices.api entry for {spec.model!r}"
        else:
            line["usd"] = n_in / 1e6 * rate.get("input", 0.0) + n_out / 1e6 * rate.get("output", 0.0)
            line["assumption"] = f"{spec.model} at ${rate.get('input', 0)}/${rate.get('output', 0)} per 1M in/out"
        return line
    if measured and measured.get("tokens_per_second"):
        tps, why = measured["tokens_per_second"], f"{measured['tokens_per_second']:.1f} tokens/s measured"
    elif spec.backend == "embedded":
        tps, why = EMBEDDED_TOKENS_PER_SECOND, f"{EMBEDDED_TOKENS_PER_SECOND} tokens/s (embedded, batch 32, 2 threads)"
    else:
        from skyt1.hardware import peak_flops

        n, gpus, gpu = _params(spec.model, recipe), _gpus(spec, recipe), recipe.estimate.gpu
        if not n:
            line["assumption"] = f"parameters of {spec.model!r} unknown: no throughput"
            return line
        tps = gpus * peak_flops(gpu) * DECODE_UTILISATION / (2 * n)
        why = f"{tps:,.0f} tokens/s: 2N FLOPs/token at {DECODE_UTILISATION:.0%} of {gpus} x {gpu} bf16 peak"
    hours = n_out / tps / 3600
    if spec.backend == "embedded":
        line["cpu_hours"] = hours * recipe.threads
        line["usd"] = line["cpu_hours"] * prices.cpu_hour
    else:
        gpus = _gpus(spec, recipe)
        line["gpu_hours"] = hours * gpus
        line["usd"] = line["gpu_hours"] * prices.gpu_hour.get(recipe.estimate.gpu, 0.0)
    line["assumption"] = why
    return line


def _prompt_tokens(spec) -> int:
    from skyt1.config import system_prompt_text

    return PROMPT_TOKENS + math.ceil(len(system_prompt_text(spec.system_prompt) or "") / 4)


def _unknown(stage: str, what: str, why: str) -> dict:
    return {"stage": stage, "what": what, "tokens_in": None, "tokens_out": None, "gpu_hours": None, "cpu_hours": None,
            "usd": None, "assumption": why}


def _problems(recipe) -> int | None:
    n = planned_problems(recipe)
    if n is not None:
        return n
    try:  # a bundled task is counted; one on the hub is unknown offline
        from skyt1.stages.generate import problems_of

        return len(problems_of(recipe.generate)[1])
    except Exception:  # noqa: BLE001 - any failure to load means: not known before the run
        return None


def _generation(recipe) -> tuple[list[dict], float | None, float | None]:
    """Teacher generation and scoring lines; also the planned samples and mean tokens per sample."""
    g, run = recipe.generate, recipe.run_path
    problems = _problems(recipe)
    if problems is None:
        return [_unknown("generate", "teacher samples", "problem count unknown: set generate.limit")], None, None
    measured = _measured(run / "generate", g.teacher.model)
    mean = measured["mean_tokens"] if measured else g.sampling.max_tokens
    samples = problems * g.sampling.n
    line = _decode(recipe, "generate", f"{problems} problems x {g.sampling.n} samples by {g.teacher.model}", g.teacher,
                   samples * _prompt_tokens(g.teacher), samples * mean, measured)
    line["assumption"] = (f"{mean:,.0f} tokens/sample " + ("measured" if measured else "(max_tokens: upper bound)")
                          + "; " + line["assumption"])
    cpu = samples * SCORE_CPU_SECONDS / 3600
    score = {"stage": "score", "what": f"verify {samples} samples", "tokens_in": 0, "tokens_out": 0, "gpu_hours": 0.0,
             "cpu_hours": cpu, "usd": cpu * recipe.prices.cpu_hour,
             "assumption": f"{SCORE_CPU_SECONDS} CPU s per sample (math; code tests take longer)"}
    return [line, score], samples, mean


def _judge(recipe, samples: float) -> list[dict]:
    """``score.judge``: every sample asked, each reply at ``max_tokens`` (an upper bound: only the
    verdicts the rules cannot decide are sent)."""
    judge = recipe.score.judge
    if judge is None:
        return []
    from skyt1.verifiers.llm_judge import DEFAULT_PROMPT

    prompt = math.ceil(len(judge.prompt or DEFAULT_PROMPT) / 4) + PROMPT_TOKENS
    line = _decode(recipe, "score", f"LLM judge: up to {samples:,.0f} verdicts by {judge.model.model}", judge.model,
                   samples * prompt, samples * judge.max_tokens, None)
    line["assumption"] = f"every sample judged, {judge.max_tokens} tokens each (upper bound); " + line["assumption"]
    return [line]


def _rewrite(recipe, samples: float, mean: float) -> list[dict]:
    rw = recipe.rewrite
    if rw.mode != "llm" or rw.rewriter is None:
        return [{"stage": "rewrite", "what": "structural formatter", "tokens_in": 0, "tokens_out": 0, "gpu_hours": 0.0,
                 "cpu_hours": 0.0, "usd": 0.0, "assumption": "no model: free"}]
    from skyt1.stages.rewrite import DEFAULT_PROMPT

    prompt = math.ceil(len(rw.template or DEFAULT_PROMPT) / 4)
    line = _decode(recipe, "rewrite", f"rewrite up to {samples:,.0f} traces by {rw.rewriter.model}", rw.rewriter,
                   samples * (prompt + mean), samples * mean, None)
    line["assumption"] = ("every sample correct (upper bound), one try, rewrite as long as the trace; "
                          + line["assumption"])
    return [line]


def _training(recipe, samples: float | None, mean: float | None) -> dict:
    from skyt1.estimate import estimate_training

    e, cfg = recipe.estimate, recipe.preference or recipe.train
    line = {"stage": "preference" if recipe.preference else "train", "what": f"{cfg.method} fine-tuning of "
            f"{cfg.base.model}, {cfg.epochs:g} epochs", "tokens_in": None, "tokens_out": None, "gpu_hours": None,
            "cpu_hours": 0.0, "usd": None, "assumption": ""}
    tokens, why = e.tokens_per_epoch, "estimate.tokens_per_epoch"
    if tokens is None and samples is not None:
        tokens = samples * (mean + _prompt_tokens(cfg.base)) * (2 if recipe.preference else 1)
        why = "every sample kept (upper bound)"
    n = e.n_params or _params(cfg.base.model, recipe)
    price = recipe.prices.gpu_hour.get(e.gpu)
    if tokens is None or not n or price is None:
        line["assumption"] = "set estimate.n_params, estimate.tokens_per_epoch and prices.gpu_hour[estimate.gpu]"
        return line
    if cfg.num_gpus == 0:  # trained on this machine's CPU
        measured = _load(recipe.run_path / line["stage"] / "summary.json") or {}
        tps = measured.get("tokens_per_second") or TRAIN_CPU_TOKENS_PER_SECOND
        cpu = tokens * cfg.epochs / tps / 3600 * recipe.threads
        line.update(tokens_in=tokens * cfg.epochs, gpu_hours=0.0, cpu_hours=cpu, usd=cpu * recipe.prices.cpu_hour,
                    assumption=f"{tokens:,.0f} tokens/epoch ({why}) at {tps} trained tokens/s on the CPU"
                    + (" (measured)" if measured.get("tokens_per_second") else " (the tiny run's)"))
        return line
    est = estimate_training(n, tokens, cfg.epochs, e.gpu, e.n_gpus, e.mfu, price)
    line.update(tokens_in=est["tokens"], gpu_hours=est["gpu_hours"], usd=est["usd"],
                assumption=f"6ND, {tokens:,.0f} tokens/epoch ({why}), MFU {e.mfu:.0%} on {e.n_gpus} x {est['gpu']}")
    return line


def _evaluation(recipe) -> list[dict]:
    from skyt1.config import ModelSpec
    from skyt1.tasks import get_task

    ev, lines = recipe.evaluate, []
    student = (recipe.preference or recipe.train).base
    for label in ev.models:
        if label in ("base", "trained"):  # the trained model runs where the student ran, at its size
            spec = student if student.backend == "embedded" or label == "base" else student.model_copy(
                update={"backend": "transformers"})
        else:
            spec = ModelSpec(backend="transformers", model=label)
        for name in ev.tasks:
            n, size = _eval_problems(get_task(name), ev)
            if n is None:
                lines.append(_unknown("evaluate", f"{label} on {name}", "problem count unknown offline"))
                continue
            measured = _measured(recipe.run_path / "evaluate" / label / name / "generate", spec.model)
            mean = measured["mean_tokens"] if measured else ev.sampling.max_tokens
            samples = n * ev.sampling.n
            line = _decode(recipe, "evaluate", f"{label} on {name}: {n} x {ev.sampling.n}", spec,
                           samples * _prompt_tokens(spec), samples * mean, measured)
            line["assumption"] = f"{mean:,.0f} tokens/sample " + ("measured" if measured else "(upper bound)") \
                + ("; the published size (offline)" if size else "") + "; " + line["assumption"]
            lines.append(line)
    return lines


def _eval_problems(task, ev) -> tuple[int | None, bool]:
    """Problems of ``task`` to evaluate, and whether that is the task's published size (a hub
    benchmark offline: its ``sizes``, else unknown unless ``evaluate.limit`` bounds it)."""
    split = ev.split if ev.split in task.splits else task.splits[-1]
    try:
        return len(task.problems(split, ev.limit)), False
    except Exception:  # noqa: BLE001 - a hub benchmark offline
        size = task.sizes.get(split)
    if size is None:
        return ev.limit, False
    return (min(size, ev.limit) if ev.limit else size), True


def recipe_plan_cost(recipe) -> list[dict]:
    """Every stage's planned tokens, hours and dollars, each with its assumption (module docstring)."""
    lines, samples, mean = _generation(recipe)
    if samples is not None:
        lines += _judge(recipe, samples) + _rewrite(recipe, samples, mean)
    lines.append(_training(recipe, samples, mean))
    lines += _evaluation(recipe)
    known = [x["usd"] for x in lines if x["usd"] is not None]
    lines.append({"stage": "total", "what": "" if len(known) == len(lines) else "of the lines priced",
                  "tokens_in": None, "tokens_out": None, "gpu_hours": sum(x["gpu_hours"] or 0.0 for x in lines),
                  "cpu_hours": sum(x["cpu_hours"] or 0.0 for x in lines), "usd": sum(known), "assumption": ""})
    return lines


def _n(x: float | None, fmt: str = ",.0f") -> str:
    return "?" if x is None else format(x, fmt)


def _usd(x: float | None) -> str:
    return "?" if x is None else (f"{x:,.2f}" if x >= 1 else f"{x:.4f}")  # cents matter on a CPU run


def format_plan(lines: list[dict], markdown: bool = False) -> str:
    """The plan as a text table (``markdown``: a pipe table for the report)."""
    head = ("stage", "what", "tokens", "GPU h", "CPU h", "$", "assumption")
    rows = [(x["stage"], x["what"], _n(x["tokens_out"] or x["tokens_in"]), _n(x["gpu_hours"], ",.2f"),
             _n(x["cpu_hours"], ",.3f"), _usd(x["usd"]), x["assumption"]) for x in lines]
    rows[-1] = (*rows[-1][:2], "", *rows[-1][3:]) if lines and lines[-1]["stage"] == "total" else rows[-1]
    if markdown:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                         + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] for r in [head, *rows]]
    out.insert(1, "-" * len(out[0]))
    return "\n".join(s.rstrip() for s in out)

"""rewrite: put each correct trace into the Sky-T1 thought/solution format.

Sky-T1 had GPT-4o-mini rewrite QwQ traces into ``<|begin_of_thought|> ... <|end_of_thought|>
<|begin_of_solution|> ... <|end_of_solution|>``. Two modes:

- ``structural`` (default): a deterministic formatter (``curation.thought.format_structural``);
- ``llm``: any backend with a prompt, ``DEFAULT_PROMPT`` unless the recipe gives one (the
  published SkyThought prompt asks for ``<|begin_of_slow_thought|>`` markers that contradict the
  format it demonstrates, so this one is ours). ``{question}`` and ``{response}`` are filled in;
  other braces are literal. The first try is greedy, retries sample at ``temperature``.

Every result is checked (``curation.thought.check_format``): the four markers once each and in
order, nothing outside them, a thought faithful to the original trace (``min_overlap`` of its
word trigrams found there: nothing invented), exactly one ``\\boxed`` answer (one code block for
code) in the solution and, in llm mode with ``check_answer``, that answer (or program) being the
verified ``extracted`` one. A rewrite cut at ``max_tokens`` is a failed try. Failed rows are
retried up to ``max_attempts`` times; then, with ``fallback: structural``, the structural formatter
rewrites the trace (``settle_failed``), so a weak rewriter (a CPU rehearsal's 135M model) still
leaves training data, and the summary's ``rewritten_by`` counts LLM and fallback rewrites apart.

Output rows are the input verdicts plus ``formatted`` (the text, or ``None``), ``rewrite``
(``"ok"``, ``"skipped:incorrect"``, ``"skipped:truncated"`` or ``"failed: <problems of every
try>"``) and ``rewriter`` (``"structural"``, the backend's model or ``"structural_fallback"``).
A failed rewrite is recorded, never passed off as training data (``curate`` drops it). Rows are
appended as they are settled, so an interrupted stage resumes with the rest. A request the backend gives up on
(``OpenAIError`` after its own retries) stops the stage; a rerun resumes.
"""

from __future__ import annotations

import re
from pathlib import Path

from skyt1.backends.base import Request, SamplingParams
from skyt1.config import RewriteConfig
from skyt1.cost import Ledger
from skyt1.curation.thought import check_format, format_structural
from skyt1.progress import progress
from skyt1.records import Stage

__all__ = ["rewrite", "render_prompt", "settle_failed", "DEFAULT_PROMPT", "STRUCTURAL_FALLBACK"]

STRUCTURAL_FALLBACK = "structural_fallback"  # the ``rewriter`` of a row the LLM failed and the formatter wrote

DEFAULT_PROMPT = """Rewrite the reasoning below into exactly this format, and nothing else:

<|begin_of_thought|>
(the reasoning, copied almost word for word: keep every step, including false starts and checks; invent nothing)
<|end_of_thought|>
<|begin_of_solution|>
(a concise, clear solution that ends with the final answer given once, as \\boxed{...}; for a programming problem, exactly one code block holding the final program, unchanged)
<|end_of_solution|>

Use each of the four markers exactly once. Keep the final answer of the reasoning; do not solve the problem again.

Problem:
{question}

Reasoning:
{response}"""


def render_prompt(template: str, row: dict) -> str:
    """Fill ``{question}`` and ``{response}`` in one pass (so a ``{response}`` inside the
    question stays as it is); every other brace, such as ``\\boxed{}``, is literal."""
    fill = {"question": str(row.get("question", "")), "response": str(row.get("response", ""))}
    return re.sub(r"\{(question|response)\}", lambda m: fill[m.group(1)], template)


def _key(r: dict) -> tuple:
    return (r["problem_id"], r.get("index", 0))


def rewrite(rows: list[dict], stage: Stage, cfg: RewriteConfig, *, backend=None, threads: int = 1,
            prices: dict | None = None) -> dict:
    ledger = Ledger(stage="rewrite").start(carry=stage.spent_path)
    done = stage.done_keys(_key)
    todo = [r for r in rows if _key(r) not in done]
    with stage.writer() as write:
        llm_jobs = []
        for r in todo:
            if not r.get("correct"):
                write({**r, "formatted": None, "rewrite": "skipped:incorrect", "rewriter": None})
            elif r.get("finish_reason") == "length":  # never training data (curate.select): not worth a rewrite
                write({**r, "formatted": None, "rewrite": "skipped:truncated", "rewriter": None})
            elif cfg.mode == "structural":
                text, problems = _structural(r, cfg)
                write({**r, "formatted": None if problems else text,
                       "rewrite": "ok" if not problems else "failed: " + "; ".join(problems), "rewriter": "structural"})
            else:
                llm_jobs.append(r)
        if llm_jobs:
            _rewrite_llm(llm_jobs, cfg, write, backend, threads, ledger)
    records = stage.records()
    counts: dict[str, int] = {}
    for r in records:
        status = r["rewrite"].split(":")[0]
        counts[status] = counts.get(status, 0) + 1
    failures = [{"problem_id": r["problem_id"], "index": r.get("index", 0), "rewrite": r["rewrite"][:500]}
                for r in records if r["rewrite"].startswith("failed")]
    by: dict[str, int] = {}  # who wrote the kept rewrites: the LLM, or the structural fallback
    for r in records:
        if r["rewrite"] == "ok":
            who = "structural_fallback" if r.get("rewriter") == STRUCTURAL_FALLBACK else cfg.mode
            by[who] = by.get(who, 0) + 1
    summary = {"rows": len(records), "mode": cfg.mode, "status": counts, "rewritten_by": by,
               "rewriter": cfg.rewriter.model if cfg.mode == "llm" and cfg.rewriter else cfg.mode,
               "failures": failures[:1000]}  # all of them are in records.jsonl
    if len(failures) > 1000:
        summary["failures_not_listed"] = len(failures) - 1000
    stage.finish(summary, ledger.stop().to_dict(prices))
    return summary


def _rewrite_llm(rows: list[dict], cfg: RewriteConfig, write, backend, threads: int, ledger: Ledger) -> None:
    if backend is None:
        if cfg.rewriter is None:
            raise ValueError("rewrite.mode is 'llm' but rewrite.rewriter is not set")
        from skyt1.backends import make_backend

        backend = make_backend(cfg.rewriter, threads=threads)
    template = cfg.template or DEFAULT_PROMPT
    api = cfg.rewriter.model if cfg.rewriter and cfg.rewriter.backend == "openai" else None
    name = getattr(backend, "model", None) or (cfg.rewriter.model if cfg.rewriter else "llm")
    pending = {_key(r): (r, []) for r in rows}
    with progress("rewrite", len(rows), unit="traces") as bar:
        for attempt in range(cfg.max_attempts):
            params = SamplingParams(temperature=0.0 if attempt == 0 else cfg.temperature, max_tokens=cfg.max_tokens,
                                    seed=attempt)
            reqs = [Request(key=k, seed=attempt, messages=[{"role": "user", "content": render_prompt(template, r)}])
                    for k, (r, _) in pending.items()]
            for req, comp in backend.generate(reqs, params):
                ledger.tokens(comp.prompt_tokens, comp.completion_tokens, api)
                r, errors = pending[req.key]
                domain = r.get("domain", "math")
                if comp.finish_reason == "length":
                    problems = [f"cut at max_tokens ({cfg.max_tokens})"]
                elif comp.finish_reason == "error":
                    problems = ["backend error: " + (comp.text or "")[:200]]
                else:
                    answer = r.get("extracted") if cfg.check_answer else None
                    problems = check_format(comp.text, original=r["response"], domain=domain,
                                            min_overlap=cfg.min_overlap, answer=answer)
                if not problems:
                    write({**r, "formatted": comp.text.strip(), "rewrite": "ok", "rewriter": name,
                           "rewrite_attempts": attempt + 1})
                    del pending[req.key]
                    bar.advance(1)
                else:
                    errors.append(f"attempt {attempt + 1}: " + ", ".join(problems))
            if not pending:
                break
    for r, errors in pending.values():
        write(settle_failed(r, errors, cfg, name))


def _structural(row: dict, cfg: RewriteConfig) -> tuple[str, list[str]]:
    """The structural formatter's text for ``row`` and its format problems (none: usable)."""
    domain = row.get("domain", "math")
    text = format_structural(row["response"], row.get("extracted"), domain)
    return text, check_format(text, original=row["response"], domain=domain, min_overlap=cfg.min_overlap)


def settle_failed(row: dict, errors: list[str], cfg: RewriteConfig, name: str) -> dict:
    """The output row of a trace whose LLM rewrites all failed (``errors``: one line per try).
    With ``fallback: structural`` the structural formatter rewrites it instead (checked as in
    structural mode): ``rewrite`` is ``"ok"``, ``rewriter`` is ``"structural_fallback"`` and
    ``rewrite_llm_errors`` keeps why the LLM's tries failed. Otherwise, or when the formatter
    fails too, the row is ``"failed: ..."`` with every try's problems."""
    out = {**row, "formatted": None, "rewrite": "failed: " + " | ".join(errors), "rewriter": name,
           "rewrite_attempts": cfg.max_attempts}
    if cfg.fallback != "structural":
        return out
    text, problems = _structural(row, cfg)
    if problems:
        return {**out, "rewrite": out["rewrite"] + " | structural fallback: " + "; ".join(problems)}
    return {**out, "formatted": text, "rewrite": "ok", "rewriter": STRUCTURAL_FALLBACK,
            "rewrite_llm_errors": " | ".join(errors)}


def plan(recipe, *, inp: Path | None = None, out: Path | None = None) -> Stage:
    """The rewrite stage of ``recipe``: the score stage's verdicts into the Sky-T1 format."""
    src = Path(inp) if inp else recipe.run_path / "score" / "records.jsonl"
    return Stage(Path(out) if out else recipe.run_path / "rewrite", "rewrite", recipe.rewrite.model_dump(), inputs=[src])


def run(recipe, stage: Stage) -> dict:
    from skyt1.records import read_jsonl

    rows = list(read_jsonl(stage.inputs[0], required=("problem_id", "response", "correct")))
    return rewrite(rows, stage, recipe.rewrite, threads=recipe.threads, prices=recipe.prices.model_dump())

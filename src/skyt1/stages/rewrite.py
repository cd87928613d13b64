"""rewrite: put each correct trace into the Sky-T1 thought/solution format.

Sky-T1 had GPT-4o-mini rewrite QwQ traces into ``<|begin_of_thought|> ... <|end_of_thought|>
<|begin_of_solution|> ... <|end_of_solution|>``. Two modes:

- ``structural`` (default): a deterministic formatter (``curation.thought.format_structural``);
- ``llm``: any backend with a prompt: ``DEFAULT_PROMPT`` (skyt1's own) unless the recipe gives one;
  ``prompt: sky-t1`` is SkyThought's own GPT-4o-mini prompt, bundled, which the 32B recipe sends
  with SkyThought's system message (``system_prompt``). ``{question}`` and ``{response}`` are
  filled in; other braces are literal. The first try is greedy, retries sample at ``temperature``.

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
appended as they are settled, so an interrupted stage resumes with the rest. Rows stream through
in batches of 512: memory holds two batches (one formatted while the other is written), the keys
already written and the first 1,000 failures, whatever the number of rows. A request the backend gives up on
(``OpenAIError`` after its own retries) stops the stage; a rerun resumes.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from skyt1.backends import bills_tokens
from skyt1.backends.base import Request, SamplingParams
from skyt1.config import RewriteConfig
from skyt1.cost import Ledger
from skyt1.curation.thought import check_format, format_structural
from skyt1.progress import progress
from skyt1.records import Stage, WrittenKeys, batched

__all__ = ["rewrite", "render_prompt", "settle_failed", "DEFAULT_PROMPT", "STRUCTURAL_FALLBACK"]

STRUCTURAL_FALLBACK = "structural_fallback"  # the ``rewriter`` of a row the LLM failed and the formatter wrote

DEFAULT_PROMPT = """Rewrite the reasoning below into exactly this format, and nothing else:

<|begin_of_thought|>
(the reasoning, copied almost word for word: keep every step, including false starts and checks; invent nothing)
<|end_of_thought|>
<|begin_of_solution|>
(a concise, clear solution that ends with the final answer given once, as \\boxed{...}; for a programming problem, \
exactly one code block holding the final program, unchanged)
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


def rewrite(rows: Iterable[dict], stage: Stage, cfg: RewriteConfig, *, backend=None, threads: int = 1,
            prices: dict | None = None, workers: int | None = None, batch: int = 512) -> dict:
    """Rewrite ``rows`` into ``stage`` (resumable by ``(problem_id, index)``) and finish it with a summary.

    Rows stream through in batches of ``batch``: memory holds two batches, the keys already written and
    the first 1,000 failures; statuses are counted as records are written (and, on resume, in the one
    pass that reads the keys). Structural rewrites of a batch run in ``workers`` processes (default:
    the CPU count, at most 8; 1: in this process); an LLM backend made here is made once and closed.
    """
    ledger = Ledger(stage="rewrite").start(carry=stage.spent_path)
    tally, done = _Tally(cfg.mode), WrittenKeys()
    for r in stage.iter_records():
        done.add(_key(r))
        tally.add(r)
    own = _LLM(cfg, backend, threads)
    with stage.writer() as out, _Formatter(cfg.min_overlap, workers) as formatter:
        def write(r: dict) -> None:
            out(r)
            tally.add(r)

        def settle(chunk: list[dict], formatted: Callable[[], list]) -> None:
            llm_jobs = _settle(chunk, cfg, write, formatted())
            if llm_jobs:
                _rewrite_llm(llm_jobs, cfg, write, own.get(), threads, ledger)

        try:
            pending = None  # the previous batch: written while the workers format this one
            for chunk in batched((r for r in rows if _key(r) not in done), batch):
                job = (chunk, formatter.submit([r for r in chunk if _needs_format(r, cfg)]))
                if pending is not None:
                    settle(*pending)
                pending = job
            if pending is not None:
                settle(*pending)
        finally:
            own.close()
    summary = {"rows": tally.rows, "mode": cfg.mode, "status": dict(tally.counts), "rewritten_by": dict(tally.by),
               "rewriter": cfg.rewriter.model if cfg.mode == "llm" and cfg.rewriter else cfg.mode,
               "failures": tally.failures}  # all of them are in records.jsonl
    if tally.failed > len(tally.failures):
        summary["failures_not_listed"] = tally.failed - len(tally.failures)
    stage.finish(summary, ledger.stop().to_dict(prices))
    return summary


def _needs_format(r: dict, cfg: RewriteConfig) -> bool:
    return bool(r.get("correct")) and r.get("finish_reason") != "length" and cfg.mode == "structural"


def _settle(chunk: list[dict], cfg: RewriteConfig, write, formatted: list[tuple]) -> list[dict]:
    """Write the rows of ``chunk`` that need no model, in order (``formatted``: the structural rewrites
    of the rows that need one); return those for the LLM rewriter."""
    formatted = iter(formatted)
    llm_jobs = []
    for r in chunk:
        if not r.get("correct"):
            write({**r, "formatted": None, "rewrite": "skipped:incorrect", "rewriter": None})
        elif r.get("finish_reason") == "length":  # never training data (curate.select): not worth a rewrite
            write({**r, "formatted": None, "rewrite": "skipped:truncated", "rewriter": None})
        elif cfg.mode == "structural":
            text, status = next(formatted)
            write({**r, "formatted": text, "rewrite": status, "rewriter": "structural"})
        else:
            llm_jobs.append(r)
    return llm_jobs


def structural(response: str, extracted: str | None, domain: str, min_overlap: float) -> tuple[str | None, str]:
    """``(formatted text or None, status)`` of the structural rewrite of one trace."""
    text, problems = _format_checked(response, extracted, domain, min_overlap)
    return (None, "failed: " + "; ".join(problems)) if problems else (text, "ok")


def _format_checked(response: str, extracted: str | None, domain: str, min_overlap: float) -> tuple[str, list[str]]:
    text = format_structural(response, extracted, domain)
    return text, check_format(text, original=response, domain=domain, min_overlap=min_overlap)


class _Formatter:
    """Structural rewrites of a batch, in order, in worker processes (started for the first batch of
    at least 64 rows: a small run does not pay for them)."""

    def __init__(self, min_overlap: float, workers: int | None) -> None:
        self.min_overlap, self.pool = min_overlap, None
        self.workers = workers if workers is not None else min(8, os.cpu_count() or 1)

    def __enter__(self) -> _Formatter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def submit(self, rows: list[dict]) -> Callable[[], list[tuple[str | None, str]]]:
        """Start the structural rewrites of ``rows``; the returned function waits for them, in order."""
        args = [(r["response"], r.get("extracted"), r.get("domain", "math"), self.min_overlap) for r in rows]
        if self.pool is None and self.workers > 1 and len(args) >= 64:
            method = "fork" if threading.active_count() == 1 else "forkserver"  # forking threads can deadlock
            self.pool = mp.get_context(method).Pool(self.workers)
        if self.pool is None:
            done = [structural(*a) for a in args]
            return lambda: done
        return self.pool.starmap_async(structural, args, chunksize=max(1, len(args) // (4 * self.workers))).get


class _LLM:
    """The LLM rewriter's backend: the caller's, or one made on first use and closed at the end."""

    def __init__(self, cfg: RewriteConfig, backend, threads: int) -> None:
        self.cfg, self.backend, self.threads, self.owned = cfg, backend, threads, False

    def get(self):
        if self.backend is None and self.cfg.rewriter is not None:
            from skyt1.backends import make_backend

            self.backend, self.owned = make_backend(self.cfg.rewriter, threads=self.threads), True
        return self.backend  # None without a rewriter: _rewrite_llm says what is missing

    def close(self) -> None:
        if self.owned:
            self.backend.close()


class _Tally:
    """Statuses of the records written, who wrote the kept rewrites, and the first 1,000 failures."""

    def __init__(self, mode: str) -> None:
        self.mode, self.rows, self.failed = mode, 0, 0
        self.counts: Counter = Counter()
        self.by: Counter = Counter()  # who wrote the kept rewrites: the LLM, or the structural fallback
        self.failures: list[dict] = []

    def add(self, r: dict) -> None:
        self.rows += 1
        self.counts[r["rewrite"].split(":")[0]] += 1
        if r["rewrite"] == "ok":
            self.by[STRUCTURAL_FALLBACK if r.get("rewriter") == STRUCTURAL_FALLBACK else self.mode] += 1
        if r["rewrite"].startswith("failed"):
            self.failed += 1
            if len(self.failures) < 1000:
                self.failures.append({"problem_id": r["problem_id"], "index": r.get("index", 0),
                                      "rewrite": r["rewrite"][:500]})


def _rewrite_llm(rows: list[dict], cfg: RewriteConfig, write, backend, threads: int, ledger: Ledger) -> None:
    if backend is None:  # _LLM.get makes the backend once; None only without a rewriter
        raise ValueError("rewrite.mode is 'llm' but rewrite.rewriter is not set")
    template = cfg.template or DEFAULT_PROMPT
    api = cfg.rewriter.model if cfg.rewriter and bills_tokens(cfg.rewriter) else None
    system = [{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []
    name = getattr(backend, "model", None) or (cfg.rewriter.model if cfg.rewriter else "llm")
    pending = {_key(r): (r, []) for r in rows}
    with progress("rewrite", len(rows), unit="traces") as bar:
        for attempt in range(cfg.max_attempts):
            params = SamplingParams(temperature=0.0 if attempt == 0 else cfg.temperature, max_tokens=cfg.max_tokens,
                                    seed=attempt)
            reqs = [Request(key=k, seed=attempt,
                            messages=[*system, {"role": "user", "content": render_prompt(template, r)}])
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
    text, problems = _format_checked(row["response"], row.get("extracted"), row.get("domain", "math"), cfg.min_overlap)
    if problems:
        return {**out, "rewrite": out["rewrite"] + " | structural fallback: " + "; ".join(problems)}
    return {**out, "formatted": text, "rewrite": "ok", "rewriter": STRUCTURAL_FALLBACK,
            "rewrite_llm_errors": " | ".join(errors)}


def plan(recipe, *, inp: Path | None = None, out: Path | None = None) -> Stage:
    """The rewrite stage of ``recipe``: the score stage's verdicts into the Sky-T1 format."""
    src = Path(inp) if inp else recipe.run_path / "score" / "records.jsonl"
    return Stage(Path(out) if out else recipe.run_path / "rewrite", "rewrite", recipe.rewrite.model_dump(),
                 inputs=[src])


def run(recipe, stage: Stage) -> dict:
    from skyt1.records import read_jsonl

    rows = read_jsonl(stage.inputs[0], required=("problem_id", "response", "correct"))
    return rewrite(rows, stage, recipe.rewrite, threads=recipe.threads, prices=recipe.prices.model_dump())

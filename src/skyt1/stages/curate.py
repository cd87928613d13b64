"""curate: from rewritten verdicts to a training set, with every dropped row and its reason.

Steps, in order; each is recorded in the summary's ``steps`` with rows in, rows kept, problems
in and kept, and rows dropped by reason (the reason's part before the first ``:``):

1. ``gold``: rows whose problem has no gold (no answer; for code, no tests) are listed in
   ``removed.missing_gold`` and excluded (``missing_gold:answer`` / ``missing_gold:tests``);
2. ``select``: the rejection-sampling policy keeps correct, untruncated samples;
3. ``rewrite``: a failed rewrite (``rewrite_failed:<why>``), or a ``formatted`` text that is not
   well-formed Sky-T1 format after all (``rewrite_invalid:<problems>``), is never trained on;
4. ``dedup_samples`` then ``dedup``: identical traces of one problem (``duplicate_sample``) and
   near copies of one problem's trace (``near_copy_of:<index>``, at ``near_copy_threshold``),
   then exact and MinHash near-duplicate problems, within and across sources
   (``duplicate_of:<id>``, ``near_duplicate_of:<id>`` with ``drop_detail`` = the Jaccard
   estimate);
5. ``decontaminate``: problems matching an evaluation benchmark (exact, word 8-grams, fuzzy);
   each row keeps ``contamination`` = the benchmark, its item id, the method and the overlap;
6. ``difficulty`` (when a rater or a bound is set): each problem's difficulty on the AoPS 1-10
   scale, from a numeric ``meta.difficulty`` or else from ``difficulty_rater`` (ratings are
   cached in ``difficulty.jsonl``, keyed by rater, prompt and question, so a rerun pays once);
   with ``min_difficulty``/``max_difficulty``, rows outside are dropped, unrated ones too;
7. ``length`` (when ``min_tokens``/``max_tokens`` is set): tokens of the assistant turn (the
   formatted trace) by ``tokenizer`` (``None``: ``ceil(chars / 4)``);
8. ``mixture`` (when ``mixture`` is set): counts or shares per domain and/or source, sampled
   with ``seed`` (``skyt1.curation.mixture``).

Problem-level removals (missing gold, duplicates, contamination) are also listed in the
summary's ``removed``, one entry per problem with what it matched. Outputs in the stage
directory: ``records.jsonl`` (kept rows, with ``n_tokens`` and, when labelled,
``difficulty``), ``dropped.jsonl`` (every dropped row with ``drop_reason`` and ``dropped_at``),
the exports (LLaMA-Factory ShareGPT + ``dataset_info.json``, TRL messages; with ``preference``,
Sky-T1-32B-Flash pairs for TRL and LLaMA-Factory; with ``hf_dataset``/``push_to_hub``, a
Hugging Face dataset with a card), and ``token_lengths.png`` (``histograms``).

Curation without an LLM rater is deterministic and quick, so an interrupted run starts over.

Streaming (``curation.run``): rows are read, filtered and written in batches of ``BATCH``
rows; nothing holds the whole set, and no index holds text. Memory is one batch plus the
indexes the steps need, stated on each step (``curation.steps``, ``curation.shaping``): per
problem about 0.7 kB (its id, once; a byte or two per step; for kept ones a 128-permutation
MinHash signature and its LSH band keys, 516 bytes); per kept trace about 0.22 kB (a digest
and a 48-hash sketch); per input row 12 bytes (its file offset, its teacher tokens) and, with
``preference``, 21 more (its length, index and verdict), plus the response and question of
the candidates of the last 2,048 rows (``curation.preference``: the pairs are written as the
rows stream by, about 15 MB for Sky-T1-length traces). ``benchmarks/bench_curate.py``
measures the peak. The HF dataset (``hf_dataset``) is written last, once the indexes are freed:
streamed from ``records.jsonl`` into Arrow shards next to the stage directory, which are then
moved into place (``curation.card``), one writer batch in memory and nothing read back (1M
half-length rows: peak 549 MB with it, 541 without). The policies
``shortest_correct`` and ``one_per_problem``, difficulty labels and the mixture each add a
preparation pass over the input. With ``ray`` set, MinHash signatures and benchmark checks of
each batch's new problems run as Ray tasks over shards (``curation.shards``), with the same
results.
"""

from __future__ import annotations

import json
import os
from array import array
from collections import Counter
from pathlib import Path

from skyt1.config import CurateConfig, system_prompt_text
from skyt1.cost import Ledger
from skyt1.curation.card import dataset_card, hf_features, provenance
from skyt1.curation.export import SftWriter, save_hf_dataset, to_messages
from skyt1.curation.preference import write_preference_exports
from skyt1.curation.mixture import check_targets
from skyt1.curation.run import Log, ProblemIds, Source, run_steps
from skyt1.curation.shaping import DifficultyFilter, DifficultyLabels, Length, Mixture, Tokens
from skyt1.curation.shards import Mapper
from skyt1.curation.stats import TokenCounter, length_histograms_of, token_report_of
from skyt1.curation.steps import Contamination, Gold, Problems, Rewrite, Samples, Select, missing_gold
from skyt1.records import Stage, read_jsonl

__all__ = ["BATCH", "curate", "missing_gold", "plan", "run"]

BATCH = 512


def _validate(cfg: CurateConfig) -> None:
    if cfg.mixture:
        check_targets(cfg.mixture)
    lo, hi = cfg.min_difficulty, cfg.max_difficulty
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"curate.min_difficulty ({lo}) > curate.max_difficulty ({hi})")
    if cfg.min_tokens is not None and cfg.max_tokens is not None and cfg.min_tokens > cfg.max_tokens:
        raise ValueError(f"curate.min_tokens ({cfg.min_tokens}) > curate.max_tokens ({cfg.max_tokens})")


def build_steps(cfg: CurateConfig, stage_dir: Path, ledger, mapper, counter, ids: ProblemIds) -> list:
    """The recipe's steps, in order (see the module docstring)."""
    steps = [Gold(), Select(cfg.policy), Rewrite()]
    if cfg.dedup:
        steps += [Samples(cfg.near_copy_threshold, ids), Problems(cfg.near_dedup_threshold, mapper, ids)]
    if cfg.decontaminate:
        steps.append(Contamination(cfg.decontaminate, cfg.decontaminate_min_overlap, mapper, ids))
    if cfg.difficulty_rater is not None or cfg.min_difficulty is not None or cfg.max_difficulty is not None:
        cache = stage_dir / "difficulty.jsonl"
        steps += [DifficultyLabels(cfg.difficulty_rater, cfg.difficulty_prompt, cache, ledger),
                  DifficultyFilter(cfg.min_difficulty, cfg.max_difficulty)]
    if counter is not None:
        steps.append(Tokens(counter))
    if cfg.min_tokens is not None or cfg.max_tokens is not None:
        steps.append(Length(cfg.min_tokens, cfg.max_tokens))
    if cfg.mixture:
        steps.append(Mixture(cfg.mixture, cfg.mixture_by, cfg.mixture_unit, cfg.mixture_total, cfg.seed))
    return steps


class _Kept:
    """What the summary and the card need of the kept rows: counts and token series, no text."""

    def __init__(self):
        self.n = 0
        self.sources, self.teachers, self.rewriters = Counter(), set(), set()
        self.tokens: dict[str, array] = {}
        self.teacher_in, self.teacher_kept = array("i"), array("i")

    def tap(self, start: int, rows: list[dict]) -> None:
        self.teacher_in.extend(-1 if (t := _completion_tokens(r)) is None else t for r in rows)

    def add(self, r: dict) -> None:
        self.n += 1
        self.sources[str(r.get("task", "unknown"))] += 1
        for key, into in (("model", self.teachers), ("rewriter", self.rewriters)):
            if r.get(key):
                into.add(str(r[key]))
        if "n_tokens" in r:
            self.tokens.setdefault(str(r.get("domain", "unknown")), array("q")).append(r["n_tokens"])
        if (t := _completion_tokens(r)) is not None:
            self.teacher_kept.append(t)


def _completion_tokens(r: dict) -> int | None:
    n = (r.get("usage") or {}).get("completion_tokens")
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def curate(rows, stage: Stage, cfg: CurateConfig, *, prices: dict | None = None) -> dict:
    """Curate ``rows`` (a list, or a JSONL path read in batches) into ``stage``; returns the summary."""
    _validate(cfg)
    ledger = Ledger(stage="curate").start(carry=stage.spent_path)
    stage.dir.mkdir(parents=True, exist_ok=True)
    source = Source(rows, BATCH, required=("problem_id", "question", "response", "correct"))
    tokens_wanted = cfg.histograms or cfg.min_tokens is not None or cfg.max_tokens is not None
    counter = TokenCounter(cfg.tokenizer) if tokens_wanted else None
    mapper = Mapper(cfg.ray)
    ids = ProblemIds()
    steps = build_steps(cfg, stage.dir, ledger, mapper, counter, ids)
    log = Log([s.name for s in steps if s.logged], stage.dir / "dropped.jsonl", ids, raw=source.raw)
    system = system_prompt_text(cfg.system_prompt) or ""
    sft = SftWriter(stage.dir, cfg.name, system, assistant_key="formatted")
    kept = _Kept()
    pairs = None
    if cfg.preference:
        from skyt1.curation.preference import PreferenceWriter, StreamedPairs
        from skyt1.curation.select import PairCollector

        pairs = StreamedPairs(PairCollector(ids), PreferenceWriter(stage.dir, cfg.name, system), log.excluded)
    try:
        _stream(steps, source, log, stage.records_path, sft, kept, pairs)
    finally:
        mapper.close()
    paths = sft.close(redo=lambda: read_jsonl(stage.records_path))  # read back only if a row lacked a prompt
    user_key = sft.user_key or "question"
    summary = {"input": len(kept.teacher_in), "kept": kept.n, "problems": log.problems_kept(), "steps": log.steps(),
               "removed": log.removed, "dropped_file": str(log.dropped_path)}
    if pairs is not None:
        if pairs.finish(user_key):  # written as the rows came
            paths.update(pairs.writer.close())
            summary["preference_pairs"] = {"n": sum(pairs.kinds.values()), "by_kind": dict(pairs.kinds)}
        else:  # rows of a problem apart, or another user key: read the pairs' rows back
            pairs.writer.close(ok=False)
            _write_pairs(pairs.collector, source, log.excluded, user_key, stage.dir, cfg.name, system, paths, summary)
    source.close()
    for step in steps:
        if isinstance(step, DifficultyLabels):
            summary["difficulty"] = step.stats
        if isinstance(step, Mixture):
            summary["mixture"] = step.targets
    del steps, pairs, log, source, ids
    if cfg.hf_dataset or cfg.push_to_hub:
        _release_memory()  # the indexes' pages, before the HF dataset's writer needs its own
    _finish_summary(summary, kept, counter, cfg, stage, system, user_key, paths)
    stage.finish(summary, ledger.stop().to_dict(prices))
    return summary


def _release_memory() -> None:
    """Hand the pages of freed objects back to the OS: glibc keeps freed heap pages mapped (RSS)
    unless asked (``malloc_trim``); about 60 MB of 220 at 100k rows. A no-op without glibc."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def _stream(steps: list, source: Source, log: Log, records: Path, sft, kept: _Kept, pairs) -> None:
    """The one pass that writes: kept rows to ``records`` (an unchanged row as its input line)
    and the SFT exports; dropped rows through ``log``. Deterministic, so a rerun starts over."""
    def tap(start: int, batch: list[dict]) -> None:
        kept.tap(start, batch)
        if pairs is not None:
            for i, r in enumerate(batch):
                pairs.tap(start + i, r, missing_gold(r) is None)

    with records.open("wb", buffering=1 << 20) as fh, log:
        def sink(batch: list[dict]) -> None:
            for r in batch:
                line = source.raw(r)  # the input's bytes: neither decoded nor encoded again
                fh.write((line if line is not None else json.dumps(r, ensure_ascii=False).encode("utf-8")) + b"\n")
                sft.add(r)
                kept.add(r)
            if pairs is not None:  # the problems whose rows are over have passed every step
                pairs.flush(sft.user_key or "question")

        run_steps(steps, source, log, sink, tap)
        fh.flush()
        os.fsync(fh.fileno())


def _write_pairs(pairs, source: Source, excluded: set, user_key: str, out: Path, name: str, system: str,
                 paths: dict, summary: dict) -> None:
    kinds = Counter()

    def stream():
        for p in pairs.pairs(source.get, excluded, prompt_of=lambda r: r.get(user_key, r.get("question"))):
            kinds[p["kind"]] += 1
            yield p

    paths.update(write_preference_exports(stream(), out, name, system))
    summary["preference_pairs"] = {"n": sum(kinds.values()), "by_kind": dict(kinds)}


def _finish_summary(summary: dict, kept: _Kept, counter, cfg: CurateConfig, stage: Stage, system: str,
                    user_key: str, paths: dict) -> None:
    if counter is not None:
        teacher = [t if t >= 0 else None for t in kept.teacher_in]
        summary["tokens"] = token_report_of(kept.tokens, teacher, kept.teacher_kept, counter.name)
        if cfg.histograms:
            png = length_histograms_of(kept.tokens, teacher, kept.teacher_kept, counter.name,
                                       stage.dir / "token_lengths.png")
            summary["histograms"] = {"token_lengths": str(png)}
    if cfg.hf_dataset or cfg.push_to_hub:  # the HF dataset is streamed from the written records
        card = dataset_card(cfg, summary["steps"], stage.dir, summary.get("preference_pairs"), kept.sources,
                            kept.teachers, kept.rewriters)
        records = stage.records_path

        def hf_rows():
            for r in read_jsonl(records):
                yield {**to_messages(r, system, user_key, "formatted"), **provenance(r)}

        paths["hf_dataset"] = save_hf_dataset(hf_rows, stage.dir / "hf_dataset", card, repo_id=cfg.push_to_hub,
                                              features=hf_features())
        if cfg.push_to_hub:
            pushed = bool(os.environ.get("HF_TOKEN"))
            summary["push_to_hub"] = {"repo": cfg.push_to_hub, "pushed": pushed,
                                      **({} if pushed else {"why_not": "HF_TOKEN is not set"})}
    summary["exports"] = {k: str(v) for k, v in paths.items()}


def plan(recipe, *, inp: Path | None = None, out: Path | None = None) -> Stage:
    """The curate stage of ``recipe``: the rewritten traces into the training set."""
    src = Path(inp) if inp else recipe.run_path / "rewrite" / "records.jsonl"
    config = recipe.curate.model_dump(exclude={"ray"})  # where it runs does not change the result
    return Stage(Path(out) if out else recipe.run_path / "curate", "curate", config, inputs=[src])


def run(recipe, stage: Stage) -> dict:
    """Curate the stage's input file, streamed."""
    return curate(stage.inputs[0], stage, recipe.curate, prices=recipe.prices.model_dump())

"""curate: from rewritten verdicts to a training set, with every dropped row and its reason.

Steps, in order; each is recorded in the summary's ``steps`` with rows in, rows kept, problems
in and kept, and rows dropped by reason (the reason's part before the first ``:``):

1. ``gold``: rows whose problem has no gold (no answer; for code, no tests) are listed in
   ``removed.missing_gold`` and excluded (``missing_gold:answer`` / ``missing_gold:tests``);
2. ``select``: the rejection-sampling policy keeps correct, untruncated samples;
3. ``rewrite``: a failed rewrite (``rewrite_failed:<why>``), or a ``formatted`` text that is not
   well-formed Sky-T1 format after all (``rewrite_invalid:<problems>``), is never trained on;
4. ``dedup_samples`` then ``dedup``: identical traces of one problem, then exact and MinHash
   near-duplicate problems, within and across sources (``duplicate_of:<id>``,
   ``near_duplicate_of:<id>`` with ``drop_detail`` = the Jaccard estimate);
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
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from skyt1.config import CurateConfig, system_prompt_text
from skyt1.cost import Ledger, sum_ledgers
from skyt1.curation import partition
from skyt1.curation.decontaminate import Decontaminator, decontaminate, default_benchmarks
from skyt1.curation.dedup import dedup_exact, dedup_near
from skyt1.curation.export import write_exports, write_preference_exports
from skyt1.curation.mixture import check_targets, mix
from skyt1.curation.select import preference_pairs, select
from skyt1.curation.stats import TokenCounter, filter_length, length_histograms, token_report
from skyt1.curation.thought import check_format
from skyt1.records import Stage

__all__ = ["curate", "missing_gold"]

_PROBLEM_LEVEL = ("gold", "dedup", "decontaminate", "difficulty")


def missing_gold(row: dict) -> str | None:
    """``"answer"`` or ``"tests"`` when the row's problem lacks what verifies it, else None."""
    if row.get("domain") == "code":
        tests = row.get("tests")
        if not tests or (isinstance(tests, dict) and "inputs" in tests and not tests["inputs"]):
            return "tests"
        return None
    answer = row.get("answer")
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        return None if row.get("tests") else "answer"
    return None


def _problems(rows: list[dict]) -> list[dict]:
    seen: dict[str, dict] = {}
    for r in rows:
        seen.setdefault(r["problem_id"], {"id": r["problem_id"], "question": r.get("question", "")})
    return list(seen.values())


def _keep_problems(rows: list[dict], kept_problems: list[dict], dropped_problems: list[dict]) -> tuple[list, list]:
    """Problem-level verdicts applied to rows; a dropped row carries all of its problem's drop
    details (``drop_reason``, ``drop_detail``, ``contamination``)."""
    detail = {p["id"]: {k: v for k, v in p.items() if k in ("drop_reason", "drop_detail", "contamination")}
              for p in dropped_problems}
    keep_ids = {p["id"] for p in kept_problems}
    kept = [r for r in rows if r["problem_id"] in keep_ids]
    dropped = [{**r, **detail[r["problem_id"]]} for r in rows if r["problem_id"] in detail]
    return kept, dropped


def _validate(cfg: CurateConfig) -> None:
    if cfg.mixture:
        check_targets(cfg.mixture)
    lo, hi = cfg.min_difficulty, cfg.max_difficulty
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"curate.min_difficulty ({lo}) > curate.max_difficulty ({hi})")
    if cfg.min_tokens is not None and cfg.max_tokens is not None and cfg.min_tokens > cfg.max_tokens:
        raise ValueError(f"curate.min_tokens ({cfg.min_tokens}) > curate.max_tokens ({cfg.max_tokens})")


def curate(rows: list[dict], stage: Stage, cfg: CurateConfig, *, prices: dict | None = None) -> dict:
    _validate(cfg)
    ledger = Ledger(stage="curate").start(carry=stage.spent_path)
    stage.dir.mkdir(parents=True, exist_ok=True)
    stage.records_path.unlink(missing_ok=True)  # deterministic: an interrupted run starts over
    steps: list[dict] = []
    dropped_all: list[dict] = []
    removed: dict[str, list] = {"missing_gold": [], "duplicates": [], "contaminated": []}
    n_input, teacher_tokens = len(rows), [_completion_tokens(r) for r in rows]

    def step(name: str, kept: list[dict], dropped: list[dict], n_in: int, p_in: int, **extra) -> list[dict]:
        steps.append({"step": name, "in": n_in, "kept": len(kept), "problems_in": p_in,
                      "problems_kept": len({r["problem_id"] for r in kept}),
                      "dropped": dict(Counter(d["drop_reason"].split(":")[0] for d in dropped)), **extra})
        dropped_all.extend({**d, "dropped_at": name} for d in dropped)
        return kept

    def run(name: str, fn, rows: list[dict]) -> list[dict]:
        kept, dropped, *extra = fn(rows)
        return step(name, kept, dropped, len(rows), len({r["problem_id"] for r in rows}), **(extra[0] if extra else {}))

    rows = run("gold", _gold_step, rows)
    removed["missing_gold"] = _listing(dropped_all, "gold", lambda d: {"missing": d["drop_reason"].split(":")[1]})
    gold_rows = rows
    rows = run("select", lambda rs: select(rs, cfg.policy), rows)
    rows = run("rewrite", _rewrite_step, rows)
    if cfg.dedup:
        rows = run("dedup_samples", _sample_dedup, rows)
        rows = run("dedup", lambda rs: _problem_dedup(rs, cfg.near_dedup_threshold), rows)
        removed["duplicates"] = _listing(dropped_all, "dedup", lambda d: {
            "duplicate_of": d["drop_reason"].split(":", 1)[1], "method": d["drop_reason"].split(":")[0],
            "similarity": d.get("drop_detail", 1.0)})
    if cfg.decontaminate:
        decon = Decontaminator(default_benchmarks(cfg.decontaminate), min_overlap=cfg.decontaminate_min_overlap)
        rows = run("decontaminate", lambda rs: _keep_problems(rs, *decontaminate(_problems(rs), decon)), rows)
        removed["contaminated"] = _listing(dropped_all, "decontaminate", lambda d: dict(d["contamination"]))
    difficulty = None
    bounded = cfg.min_difficulty is not None or cfg.max_difficulty is not None
    if cfg.difficulty_rater is not None or bounded:
        from skyt1.curation.difficulty import filter_difficulty, label_difficulty

        rows, difficulty = label_difficulty(rows, cfg.difficulty_rater, prompt=cfg.difficulty_prompt,
                                            cache_path=stage.dir / "difficulty.jsonl", ledger=ledger)
        lo, hi = cfg.min_difficulty, cfg.max_difficulty
        rows = run("difficulty", lambda rs: filter_difficulty(rs, lo, hi) if bounded else (rs, []), rows)
    counter = None
    if cfg.histograms or cfg.min_tokens is not None or cfg.max_tokens is not None:
        counter = TokenCounter(cfg.tokenizer)
        counts = counter.count([str(r.get("formatted") or "") for r in rows])
        rows = [{**r, "n_tokens": n} for r, n in zip(rows, counts, strict=True)]
    if cfg.min_tokens is not None or cfg.max_tokens is not None:
        rows = run("length", lambda rs: filter_length(rs, [r["n_tokens"] for r in rs], cfg.min_tokens, cfg.max_tokens), rows)
    mixture = None
    if cfg.mixture:
        def _mix(rs):
            kept, dropped, report = mix(rs, cfg.mixture, by=cfg.mixture_by, unit=cfg.mixture_unit,
                                        total=cfg.mixture_total, seed=cfg.seed)
            return kept, dropped, {"targets": report}

        rows = run("mixture", _mix, rows)
        mixture = steps[-1]["targets"]

    with stage.writer() as write:
        for r in rows:
            write(r)
    dropped_path = stage.dir / "dropped.jsonl"
    with dropped_path.open("w", encoding="utf-8") as fh:
        for d in dropped_all:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    system = system_prompt_text(cfg.system_prompt) or ""
    # The user turn is the prompt the teacher answered (the task's template), as at evaluation.
    user_key = "prompt" if rows and all("prompt" in r for r in rows) else "question"
    paths = write_exports(rows, stage.dir, cfg.name, system, user_key=user_key, assistant_key="formatted")
    summary = {"input": n_input, "kept": len(rows), "problems": len({r["problem_id"] for r in rows}), "steps": steps,
               "removed": removed, "dropped_file": str(dropped_path)}
    if cfg.preference:
        excluded = {d["problem_id"] for d in dropped_all if d["dropped_at"] in _PROBLEM_LEVEL}
        pairs = preference_pairs([r for r in gold_rows if r["problem_id"] not in excluded])
        users = {r["problem_id"]: r.get(user_key, r.get("question")) for r in gold_rows}
        pairs = [{**p, "prompt": users[p["problem_id"]]} for p in pairs]
        paths.update(write_preference_exports(pairs, stage.dir, cfg.name, system))
        summary["preference_pairs"] = {"n": len(pairs), "by_kind": dict(Counter(p["kind"] for p in pairs))}
    if difficulty is not None:
        summary["difficulty"] = difficulty
    if mixture is not None:
        summary["mixture"] = mixture
    if counter is not None:
        summary["tokens"] = token_report(rows, teacher_tokens, counter.name)
        if cfg.histograms:
            png = length_histograms(rows, teacher_tokens, counter.name, stage.dir / "token_lengths.png")
            summary["histograms"] = {"token_lengths": str(png)}
    if cfg.hf_dataset or cfg.push_to_hub:
        from skyt1.curation.export import save_hf_dataset, to_messages

        card = _card(rows, steps, cfg, stage.dir, summary.get("preference_pairs"))
        hf_rows = [{**to_messages(r, system, user_key, "formatted"), **_provenance(r)} for r in rows]
        paths["hf_dataset"] = save_hf_dataset(hf_rows, stage.dir / "hf_dataset", card, repo_id=cfg.push_to_hub)
        if cfg.push_to_hub:
            pushed = bool(os.environ.get("HF_TOKEN"))
            summary["push_to_hub"] = {"repo": cfg.push_to_hub, "pushed": pushed,
                                      **({} if pushed else {"why_not": "HF_TOKEN is not set"})}
    summary["exports"] = {k: str(v) for k, v in paths.items()}
    stage.finish(summary, ledger.stop().to_dict(prices))
    return summary


def _gold_step(rows: list[dict]) -> tuple[list, list]:
    def reason(_: int, r: dict) -> str | None:
        what = missing_gold(r)
        return None if what is None else f"missing_gold:{what}"

    return partition(rows, reason)


def _rewrite_step(rows: list[dict]) -> tuple[list, list]:
    def reason(_: int, r: dict) -> str | None:
        status = str(r.get("rewrite", "ok"))
        if not r.get("formatted") or status != "ok":
            return "rewrite_failed:" + (status if status != "ok" else "no formatted text")
        problems = check_format(str(r["formatted"]), domain=r.get("domain", "math"))
        return "rewrite_invalid:" + "; ".join(problems) if problems else None

    return partition(rows, reason)


def _sample_dedup(rows: list[dict]) -> tuple[list, list]:
    seen: set[tuple] = set()
    unique, repeats = [], []
    for r in rows:  # the same trace twice for one problem teaches nothing new
        key = (r["problem_id"], r["formatted"])
        (repeats if key in seen else unique).append(r)
        seen.add(key)
    return unique, [{**r, "drop_reason": "duplicate_sample"} for r in repeats]


def _problem_dedup(rows: list[dict], threshold: float | None) -> tuple[list, list]:
    kp, dp = dedup_exact(_problems(rows))
    if threshold is not None:
        kp, dp2 = dedup_near(kp, threshold=threshold)
        dp += dp2
    return _keep_problems(rows, kp, dp)


def _short(text, n: int = 300) -> str:
    text = str(text or "")
    return text if len(text) <= n else text[: n - 3] + "..."


def _listing(dropped: list[dict], step: str, detail) -> list[dict]:
    """One entry per problem dropped at ``step``: its id, task, question and ``detail(row)``."""
    out, seen = [], set()
    for d in dropped:
        if d["dropped_at"] == step and d["problem_id"] not in seen:
            seen.add(d["problem_id"])
            out.append({"problem_id": d["problem_id"], "task": d.get("task"), "question": _short(d.get("question")),
                        **detail(d)})
    return out


def _completion_tokens(r: dict) -> int | None:
    n = (r.get("usage") or {}).get("completion_tokens")
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def _provenance(r: dict) -> dict:
    answer = r.get("answer")
    return {"problem_id": str(r["problem_id"]), "task": str(r.get("task", "")), "domain": str(r.get("domain", "")),
            "answer": None if answer is None else str(answer), "teacher": str(r.get("model", "")),
            "difficulty": r.get("difficulty"), "n_tokens": r.get("n_tokens")}


def _card(rows: list[dict], steps: list[dict], cfg: CurateConfig, stage_dir: Path, pairs: dict | None) -> dict:
    """The dataset card's content: sources, counts, filters, teacher, rewriter and cost."""
    ledgers, stages = [], []
    for name in ("generate", "score", "rewrite"):
        m = stage_dir.parent / name / "manifest.json"
        if m.is_file():
            cost = json.loads(m.read_text(encoding="utf-8")).get("cost") or {}
            if cost:
                ledgers.append(cost)
                stages.append(name)
    if ledgers:
        total = sum_ledgers(ledgers)
        cost = {"stages": ", ".join(stages), "usd": total["usd"]["total"], "prompt_tokens": total["prompt_tokens"],
                "completion_tokens": total["completion_tokens"], "gpu_hours": round(total["gpu_seconds"] / 3600, 3)}
    else:
        cost = "not recorded (no generate/score/rewrite manifests next to the curate directory)"
    counts = {s["step"]: f"{s['in']} -> {s['kept']}" + (f" (dropped: {s['dropped']})" if s["dropped"] else "")
              for s in steps}
    counts["preference pairs"] = (pairs or {}).get("n", 0)
    filters = {k: v for k, v in cfg.model_dump(exclude={"card", "name", "push_to_hub"}).items() if v not in (None, [], {})}
    return {
        "name": cfg.name,
        **cfg.card,
        "sources": dict(Counter(str(r.get("task", "unknown")) for r in rows)),
        "counts": counts,
        "filters": filters,
        "teacher": sorted({str(r.get("model")) for r in rows if r.get("model")}) or "unknown",
        "rewriter": sorted({str(r.get("rewriter")) for r in rows if r.get("rewriter")}) or "unknown",
        "cost": cost,
    }


def plan(recipe, *, inp: Path | None = None, out: Path | None = None) -> Stage:
    """The curate stage of ``recipe``: the rewritten traces into the training set."""
    src = Path(inp) if inp else recipe.run_path / "rewrite" / "records.jsonl"
    return Stage(Path(out) if out else recipe.run_path / "curate", "curate", recipe.curate.model_dump(), inputs=[src])


def run(recipe, stage: Stage) -> dict:
    from skyt1.records import read_jsonl

    rows = list(read_jsonl(stage.inputs[0], required=("problem_id", "question", "response", "correct")))
    return curate(rows, stage, recipe.curate, prices=recipe.prices.model_dump())

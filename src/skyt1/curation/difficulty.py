"""Difficulty labels on the AoPS 1-10 scale, from an LLM, and the filter on them.

Sky-T1 filtered its math problems by difficulty (NovaSky blog "Sky-T1: Train your own O1
preview model within $450"): an LLM rated each problem against the Art of Problem Solving
competition scale (AoPS Wiki, "AoPS Wiki:Competition ratings"), the scale Omni-MATH uses for
its levels. The scale places contests on one line, from AMC 8 (1) through AIME (2-6) to
USAMO/IMO (7-10); ``MATH_RUBRIC`` here is our own condensed wording of it, and ``CODE_RUBRIC``
maps the same 1-10 range onto Codeforces ratings so that code problems share the scale.

Contracts:

- ``parse_rating(text) -> float | None``: the last ``[[x]]`` in ``text`` (the format the prompt
  asks for), else the last ``rating: x`` / ``difficulty: x``; ``None`` unless 1 <= x <= 10.
- ``rate_difficulty(problems, backend, ...) -> {id: {"difficulty", "attempts", "error"}}``:
  asks ``backend`` once per problem (the prompt chosen by the problem's domain), retries those
  whose answer does not parse (up to ``max_attempts``), and reports failures with
  ``difficulty=None`` and the last ``error``. Token usage goes to ``ledger`` when given.
  ``on_result(id, result)`` is called as each problem is settled (the stage caches ratings).
- ``filter_difficulty(rows, lo, hi, key="difficulty") -> (kept, dropped)``: rows whose
  ``key`` is ``None`` are dropped as ``difficulty_unrated`` (a bound was asked for; an unrated
  problem does not meet it), the others outside ``[lo, hi]`` as ``too_easy:<d>`` /
  ``too_hard:<d>``.
- ``meta_difficulty(problem) -> float | None``: a numeric ``meta.difficulty`` already on the
  problem (the AIME archive carries AoPS ratings), else ``None``.
- ``label_difficulty(rows, rater, prompt=None, cache_path=None, ledger=None) -> (rows, stats)``:
  copies of ``rows`` (verdicts, several per problem) with ``difficulty`` and
  ``difficulty_source`` (``"meta"``, ``"llm"`` or ``None``): a problem's numeric
  ``meta.difficulty`` when it has one, else the ``rater``'s (a ``ModelSpec``; ``None``: no LLM).
  Ratings are appended to ``cache_path`` (JSONL) as they arrive, keyed by a hash of the rater
  (backend, model, revision), the prompt and the question, so a rerun asks only for what is
  still unrated. ``stats``: ``from_meta``, ``from_llm``, ``cached``, ``unrated``, ``failed``
  (problem ids with the last error) and ``histogram`` (rounded rating -> problems).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

from skyt1.backends.base import Request, SamplingParams
from skyt1.curation import partition

__all__ = [
    "CODE_RUBRIC",
    "DEFAULT_PROMPT",
    "MATH_RUBRIC",
    "filter_difficulty",
    "label_difficulty",
    "meta_difficulty",
    "parse_rating",
    "rate_difficulty",
    "render_prompt",
]

MATH_RUBRIC = """The scale (averages; interpolate other contests against these anchors):
1: easiest middle-school contest work and ordinary textbook word problems (AMC 8 early questions, \
AMC 10 1-10, AMC 12 1-5).
2: harder beginner problems (AMC 8 last questions, AMC 10 11-20, AMC 12 5-15, AIME 1-3).
3: beginner problems needing some creativity (AMC 10 21-25, AMC 12 15-20, AIME 4-6).
4: intermediate problems (AMC 12 21-25, AIME 7-9).
5: harder AIME problems (AIME 10-12) and the easiest proof-based olympiad problems.
6: the hardest AIME problems (AIME 13-15) and introductory olympiad problems (easy USAMO/IMO 1 and 4).
7: olympiad problems needing more technique (hard USAMO/IMO 1 and 4, easier USAMO/IMO 2 and 5).
8: high-level olympiad problems (medium-hard USAMO/IMO 2 and 5, easiest USAMO/IMO 3 and 6).
9: expert olympiad problems (average USAMO/IMO 3 and 6).
10: historically hard problems, too long or tedious even for the IMO.
Rate multiple-choice problems as if they were free-response."""

CODE_RUBRIC = """The scale, by the Codeforces rating of a problem of the same difficulty:
1: <= 800 (direct implementation, a loop or a formula).
2: about 1000. 3: about 1200. 4: about 1400 (one standard idea: greedy, sorting, prefix sums, BFS).
5: about 1600. 6: about 1900 (a non-obvious combination of standard techniques, DP, graphs).
7: about 2200. 8: about 2500 (advanced data structures or algorithms, careful proofs of correctness).
9: about 2900. 10: >= 3200 (the hardest problems of any contest)."""

DEFAULT_PROMPT = """Rate how difficult the problem below is on a scale from 1 to 10. Do not solve it.

{rubric}

Problem:
{question}

Answer with the rating alone inside double square brackets, for example [[3]] or [[6.5]]."""

_BRACKETS = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
_LABELLED = re.compile(r"(?:rating|difficulty|level)\s*(?:is|=|:)?\s*\**\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def parse_rating(text: str) -> float | None:
    """The rating in a rater's answer, or None (absent, or outside 1-10)."""
    found = _BRACKETS.findall(text or "") or _LABELLED.findall(text or "")
    if not found:
        return None
    value = float(found[-1])
    return value if 1.0 <= value <= 10.0 else None


def render_prompt(question: str, domain: str = "math", template: str | None = None) -> str:
    """The rating prompt: ``{question}`` and ``{rubric}`` are filled in, other braces are literal."""
    rubric = CODE_RUBRIC if domain == "code" else MATH_RUBRIC
    fill = {"question": question, "rubric": rubric}
    return re.sub(r"\{(question|rubric)\}", lambda m: fill[m.group(1)], template or DEFAULT_PROMPT)


def meta_difficulty(problem: dict) -> float | None:
    value = (problem.get("meta") or {}).get("difficulty")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def rate_difficulty(
    problems: list[dict],
    backend,
    *,
    prompt: str | None = None,
    max_attempts: int = 3,
    max_tokens: int = 2048,
    ledger=None,
    api_model: str | None = None,
    on_result=None,
) -> dict[str, dict]:
    """Rate each problem (dicts with ``id``, ``question``, ``domain``); see the module docstring."""
    pending = {str(p["id"]): p for p in problems}
    results: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for attempt in range(max_attempts):
        if not pending:
            break
        params = SamplingParams(temperature=0.0 if attempt == 0 else 0.7, max_tokens=max_tokens, seed=attempt)
        reqs = [
            Request(
                key=(pid,),
                seed=attempt,
                messages=[
                    {"role": "user", "content": render_prompt(str(p["question"]), p.get("domain", "math"), prompt)}
                ],
            )
            for pid, p in pending.items()
        ]
        for req, comp in backend.generate(reqs, params):
            if ledger is not None:
                ledger.tokens(comp.prompt_tokens, comp.completion_tokens, api_model)
            pid = req.key[0]
            value = parse_rating(comp.text) if comp.finish_reason != "error" else None
            if value is None:
                errors[pid] = (
                    f"unparsable rating: {comp.text.strip()[-120:]!r}" if comp.text.strip() else "empty answer"
                )
                continue
            results[pid] = {"difficulty": value, "attempts": attempt + 1, "error": None}
            del pending[pid]
            if on_result is not None:
                on_result(pid, results[pid])
    for pid in pending:
        results[pid] = {"difficulty": None, "attempts": max_attempts, "error": errors.get(pid, "no answer")}
        if on_result is not None:
            on_result(pid, results[pid])
    return results


def filter_difficulty(
    rows: list[dict], lo: float | None, hi: float | None, key: str = "difficulty"
) -> tuple[list[dict], list[dict]]:
    """Keep rows rated within ``[lo, hi]`` (a ``None`` bound is open); see the module docstring."""

    def reason(_: int, r: dict) -> str | None:
        d = r.get(key)
        if d is None:
            return "difficulty_unrated"
        if lo is not None and d < lo:
            return f"too_easy:{d:g}"
        if hi is not None and d > hi:
            return f"too_hard:{d:g}"
        return None

    return partition(rows, reason)


def label_difficulty(
    rows: list[dict],
    rater=None,
    *,
    prompt: str | None = None,
    cache_path: str | Path | None = None,
    ledger=None,
) -> tuple[list[dict], dict]:
    """Attach ``difficulty`` and ``difficulty_source`` to every row; see the module docstring."""
    first: dict[str, dict] = {}
    for r in rows:
        first.setdefault(r["problem_id"], r)
    labels = {pid: (meta_difficulty(r), "meta") for pid, r in first.items()}
    stats = {"from_meta": sum(v is not None for v, _ in labels.values()), "from_llm": 0, "cached": 0, "failed": []}
    todo = [pid for pid, (v, _) in labels.items() if v is None]
    if rater is not None and todo:
        salt = json.dumps([rater.backend, rater.model, rater.revision, prompt])

        def key(pid: str) -> str:
            return hashlib.sha256((salt + str(first[pid].get("question", ""))).encode()).hexdigest()[:24]

        cache_path = Path(cache_path) if cache_path is not None else None
        cache = _read_cache(cache_path)
        for pid in todo:
            if key(pid) in cache:
                labels[pid] = (cache[key(pid)], "llm")
                stats["cached"] += 1
        todo = [pid for pid in todo if labels[pid][0] is None]
        if todo:
            results = _rate_and_cache(
                rater, [first[pid] | {"id": pid} for pid in todo], key, cache_path, prompt, ledger
            )
            for pid, res in results.items():
                if res["difficulty"] is None:
                    stats["failed"].append({"problem_id": pid, "error": res["error"]})
                else:
                    labels[pid] = (res["difficulty"], "llm")
                    stats["from_llm"] += 1
    rated = [v for v, _ in labels.values() if v is not None]
    stats["unrated"] = len(labels) - len(rated)
    stats["histogram"] = dict(sorted(Counter(int(v + 0.5) for v in rated).items()))
    out = []
    for r in rows:
        value, source = labels[r["problem_id"]]
        out.append({**r, "difficulty": value, "difficulty_source": source if value is not None else None})
    return out, stats


def _read_cache(cache_path: Path | None) -> dict[str, float]:
    """The rating cache (JSONL of ``key``, ``problem_id``, ``difficulty``, ``model``) as key -> difficulty."""
    cache = {}
    if cache_path is not None and cache_path.exists():
        for line in cache_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                c = json.loads(line)
                cache[c["key"]] = c["difficulty"]
    return cache


def _rate_and_cache(rater, problems: list[dict], key, cache_path: Path | None, prompt: str | None, ledger) -> dict:
    """Rate ``problems`` (each with its ``id``) with ``rater``, appending each rating to the cache as it
    arrives (a crash keeps the ratings paid for); returns :func:`rate_difficulty`'s results."""
    from contextlib import nullcontext

    from skyt1.backends import bills_tokens, make_backend

    def keep(pid: str, res: dict) -> None:
        if fh is not None and res["difficulty"] is not None:
            fh.write(
                json.dumps({"key": key(pid), "problem_id": pid, "difficulty": res["difficulty"], "model": rater.model})
                + "\n"
            )
            fh.flush()

    # The rater's backend is closed when rating ends (Ray actors, vLLM's GPU memory, HTTP pools).
    with (
        make_backend(rater) as backend,
        cache_path.open("a", encoding="utf-8") if cache_path is not None else nullcontext() as fh,
    ):
        return rate_difficulty(
            [{"id": p["id"], "question": p.get("question", ""), "domain": p.get("domain", "math")} for p in problems],
            backend,
            prompt=prompt,
            ledger=ledger,
            api_model=rater.model if bills_tokens(rater) else None,
            on_result=keep,
        )

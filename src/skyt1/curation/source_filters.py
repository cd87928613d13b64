"""Filters a mixture source applies to its problems before its quota is drawn.

A spec's ``filters`` is a mapping, applied in this order whatever the order written::

    filters:
      level: [3, 4, 5]                  # meta.level: an int or a list of ints (MATH levels 1-5)
      difficulty: {gte: 4, lte: 9}      # meta.difficulty: gt/gte/lt/lte bounds,
      # difficulty: [4, 9]              #   or [lo, hi] (inclusive),
      # difficulty: [MEDIUM]            #   or a list of allowed labels (TACO's strings)
      question_chars: {min: 20, max: 6000}   # the question's length in characters (or [min, max])
      domain: [physics, chemistry, biology]  # the problem's domain: a string or a list

Values are read from the problem, never from raw rows, so a filter works the same on a task and
on a mapped file or hub set: map a column into ``meta.level`` / ``meta.difficulty`` with
``fields`` (e.g. ``meta.difficulty: gpt_difficulty_parsed`` for NovaSky's labeled NuminaMath).
A problem without the value fails the filter; a filter that no problem has a value for is an
error (the mapping is missing). Every error names the source and the key.

``labels`` brings a value from another source, matched on the question text, before the
filters run: ``labels: {from: {task: math_train, split: train}, copy: [meta.level]}`` gives
NuminaMath's ``math`` rows their MATH level, as SkyThought's release-time NUMINA handler did
(``get_difficulty_dict``: the ``problem`` -> ``level`` map of MATH; ``from`` may be a list of specs).

SkyThought's equivalent: ``preprocess_config`` (``math_difficulty_lower_bound`` /
``_upper_bound``, inclusive; ``difficulty`` for TACO) in ``skythought/evals/tasks/*/*.yaml``.
"""

from __future__ import annotations

import logging
import numbers

__all__ = ["FILTERS", "apply_filters", "check_filters", "check_labels", "check_selection", "join_labels",
           "label_specs"]

log = logging.getLogger(__name__)

FILTERS = ("level", "difficulty", "question_chars", "domain")  # the order they run in
BOUNDS = {"gt": lambda v, b: v > b, "gte": lambda v, b: v >= b, "lt": lambda v, b: v < b, "lte": lambda v, b: v <= b}


def _num(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _range(where: str, value, keys: tuple[str, ...]) -> None:
    """``value`` is a ``{key: number}`` mapping over ``keys`` or a ``[lo, hi]`` pair of numbers."""
    if isinstance(value, dict):
        bad = sorted(set(value) - set(keys))
        if bad or not value:
            raise ValueError(f"{where}: bounds are {', '.join(keys)}; got {', '.join(map(str, bad)) or 'none'}")
        if not all(_num(v) for v in value.values()):
            raise ValueError(f"{where}: bounds must be numbers, got {value!r}")
    elif isinstance(value, list) and len(value) == 2 and all(_num(v) for v in value):
        if value[0] > value[1]:
            raise ValueError(f"{where}: [lo, hi] with lo > hi: {value!r}")
    else:
        raise ValueError(f"{where}: give a {{{', '.join(keys)}}} mapping or [lo, hi], not {value!r}")


def check_filters(source: str, filters) -> None:
    """ValueError, naming ``source`` and the key, for any malformed filter."""
    if filters is None:
        return
    if not isinstance(filters, dict):
        raise ValueError(f"source {source}: filters is a mapping of {', '.join(FILTERS)}, not {filters!r}")
    for key, value in filters.items():
        where = f"source {source}: filters.{key}"
        if key not in FILTERS:
            raise ValueError(f"source {source}: unknown filter {key!r}; filters: {', '.join(FILTERS)}")
        if key == "level":
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise ValueError(f"{where}: an int or a list of ints, not {value!r}")
        elif key == "difficulty":
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                continue  # allowed labels
            _range(where, value, tuple(BOUNDS))
        elif key == "question_chars":
            _range(where, value, ("min", "max"))
        elif key == "domain":
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, str) for v in values):
                raise ValueError(f"{where}: a string or a list of strings, not {value!r}")


def _value(problem: dict, key: str):
    if key == "question_chars":
        return len(problem.get("question") or "")
    if key == "domain":
        return problem.get("domain")
    meta = problem.get("meta") or {}
    return meta.get(key, problem.get(key))


def _as_number(v):
    if _num(v):
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _passes(key: str, rule, value) -> bool:
    if value is None:
        return False
    if key in ("level", "domain"):
        allowed = rule if isinstance(rule, list) else [rule]
        if key == "level":
            value = _as_number(value)
        return value in allowed
    if isinstance(rule, list) and all(isinstance(v, str) for v in rule):
        return str(value) in rule
    v = _as_number(value)
    if v is None:
        return False
    if isinstance(rule, list):
        return rule[0] <= v <= rule[1]
    if key == "question_chars":
        return rule.get("min", 0) <= v <= rule.get("max", float("inf"))
    return all(BOUNDS[op](v, bound) for op, bound in rule.items())


def apply_filters(source: str, problems: list[dict], filters: dict | None) -> tuple[list[dict], dict[str, int]]:
    """``(kept, counts)``: the problems that pass every filter, in order, and how many were left
    after each filter (``{filter: n}``, in the order they ran). Logs one line per filter."""
    check_filters(source, filters)
    counts: dict[str, int] = {}
    for key in FILTERS:
        if not filters or key not in filters:
            continue
        if problems and all(_value(p, key) is None for p in problems):
            field = {"domain": "domain"}.get(key, f"meta.{key}")
            raise ValueError(f"source {source}: filters.{key}: no problem has {field}; map a column to it with "
                             f"fields: {{{field}: <column>}} or join it with labels")
        before = len(problems)
        problems = [p for p in problems if _passes(key, filters[key], _value(p, key))]
        counts[key] = len(problems)
        log.info("source %s: filter %s=%r kept %d of %d problems", source, key, filters[key], len(problems), before)
    return problems, counts


def check_labels(source: str, labels) -> None:
    """ValueError, naming ``source``, unless ``labels`` is ``{from: spec or [specs], copy: [field, ...]}``."""
    if labels is None:
        return
    where = f"source {source}: labels"
    if not isinstance(labels, dict) or set(labels) != {"from", "copy"}:
        raise ValueError(f"{where}: a mapping of 'from' (a source spec or a list) and 'copy', not {labels!r}")
    specs = labels["from"] if isinstance(labels["from"], list) else [labels["from"]]
    if not specs or not all(isinstance(x, dict) for x in specs):
        raise ValueError(f"{where}.from: a source spec or a list of them, not {labels['from']!r}")
    copy = labels["copy"]
    if not isinstance(copy, list) or not copy or not all(isinstance(f, str) and f.startswith("meta.") for f in copy):
        raise ValueError(f"{where}.copy: a list of meta.<key> fields, not {copy!r}")


def label_specs(spec: dict) -> list[dict]:
    """The source specs a spec's ``labels`` come from (none without ``labels``)."""
    labels = spec.get("labels") or {}
    found = labels.get("from") if isinstance(labels, dict) else None
    return [f for f in (found if isinstance(found, list) else [found]) if isinstance(f, dict)]


def check_selection(source: str, spec: dict) -> None:
    """ValueError, naming ``source`` and the key, for a malformed ``rows``, ``quota``, ``limit``,
    ``seed``, ``filters`` or ``labels`` of a source spec."""
    rows = spec.get("rows")
    if rows is not None and not (isinstance(rows, list) and len(rows) == 2 and all(isinstance(r, int) for r in rows)
                                 and 0 <= rows[0] < rows[1]):
        raise ValueError(f"source {source}: rows is [start, end] with 0 <= start < end, not {rows!r}")
    for key in ("quota", "limit", "seed"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < (key == "quota")):
            raise ValueError(f"source {source}: {key} must be a {'positive' if key == 'quota' else 'non-negative'} "
                             f"integer, not {value!r}")
    check_filters(source, spec.get("filters"))
    check_labels(source, spec.get("labels"))


def join_labels(source: str, problems: list[dict], labelled: list[dict], copy: list[str]) -> tuple[list[dict], int]:
    """``(problems, matched)``: each problem whose question (stripped) is a labelled problem's
    question gets that problem's ``copy`` fields (``meta.<key>``); the others get None."""
    by_question = {(p.get("question") or "").strip(): p for p in labelled}
    out, matched = [], 0
    for p in problems:
        hit = by_question.get((p.get("question") or "").strip())
        matched += hit is not None
        meta = dict(p.get("meta") or {})
        for field in copy:
            key = field[len("meta."):]
            meta[key] = (hit.get("meta") or {}).get(key) if hit is not None else None
        out.append({**p, "meta": meta})
    log.info("source %s: labels matched %d of %d problems", source, matched, len(problems))
    return out, matched

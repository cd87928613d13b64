"""A data mixture: how many training rows (or problems) to take from each domain or source.

Sky-T1-32B-Preview's 17k traces were a mixture: about 10k math (AIME, MATH and Olympiads
subsets of NuminaMath), 5k code (APPS and TACO) and 1k science and puzzles (STILL-2). A
mixture here is ``targets``: group -> target, where a group is a row's ``domain``, ``source``
(its ``task``, e.g. ``numina-amc_aime``, ``apps``) or ``domain/source`` (``by``), and a target is

- an ``int``: at most that many (fewer when the pool is smaller; the shortfall is reported);
- a ``float`` in (0, 1]: a share of the mixture. With shares, the total is ``total`` when given,
  else the largest total every share-group can fill; each group gets ``round(share x total)``.
  Counts and shares cannot be mixed (``"all"`` can be added to either);
- ``"all"``: every row of the group.

Keys are matched exactly first, then as globs (``numina-*``) in the order given; ``"*"``
matches every group no other key does. A target applies to everything its key matches
together (``numina-*: 1000`` is 1000 across the NuminaMath subsets). Groups no key matches are
dropped (``mixture_unlisted``), so a mixture says everything that goes in; rows sampled out are
dropped as ``mixture_over_target``.

Sampling is deterministic: each key's candidates are sorted by ``(problem_id, index)`` and
sampled with ``random.Random(f"{seed}:{key}")``, so adding a key does not change the others'
picks. With ``unit="problem"`` whole problems (all their rows) are sampled and counted.
Kept rows keep their input order.
"""

from __future__ import annotations

import fnmatch
import math
import random

from skyt1.curation import partition

__all__ = ["BY", "check_targets", "group_of", "mix", "mix_reasons"]

BY = ("domain", "source", "domain/source")


def group_of(row: dict, by: str = "source") -> str:
    """The mixture group of a row."""
    domain = str(row.get("domain") or "unknown")
    source = str(row.get("task") or str(row.get("problem_id", "unknown")).split("/")[0])
    return {"domain": domain, "source": source, "domain/source": f"{domain}/{source}"}[by]


def check_targets(targets: dict) -> str:
    """Validate ``targets``; return the mode (``"count"`` or ``"share"``)."""
    kinds = set()
    for key, t in targets.items():
        if t == "all":
            continue
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise ValueError(f"mixture target {key}: {t!r} is not a count, a share or 'all'")
        if isinstance(t, int):
            if t < 0:
                raise ValueError(f"mixture target {key}: a count must be >= 0, not {t}")
            kinds.add("count")
        else:
            if not 0 < t <= 1:
                raise ValueError(f"mixture target {key}: a share must be in (0, 1], not {t}")
            kinds.add("share")
    if len(kinds) > 1:
        raise ValueError("mixture targets mix counts (integers) and shares (floats); use one kind (and 'all')")
    shares = sum(t for t in targets.values() if isinstance(t, float))
    if shares > 1 + 1e-9:
        raise ValueError(f"mixture shares sum to {shares:g} > 1")
    return kinds.pop() if kinds else "count"


def _key_of(group: str, targets: dict) -> str | None:
    if group in targets:
        return group
    for key in targets:
        if key != "*" and fnmatch.fnmatchcase(group, key):
            return key
    return "*" if "*" in targets else None


def mix(
    rows: list[dict],
    targets: dict,
    *,
    by: str = "source",
    unit: str = "row",
    total: int | None = None,
    seed: int = 0,
) -> tuple[list[dict], list[dict], dict]:
    """``(kept, dropped, report)``; ``report[key] = {"groups", "available", "target", "kept"}``."""
    reasons, report = mix_reasons(rows, targets, by=by, unit=unit, total=total, seed=seed)
    return (*partition(rows, lambda pos, _: reasons.get(pos)), report)


def mix_reasons(rows, targets: dict, *, by: str = "source", unit: str = "row", total: int | None = None,
                seed: int = 0) -> tuple[dict[int, str], dict]:
    """``mix`` without the copies: ``({position: drop reason}, report)``. ``rows`` need only
    ``get`` of ``problem_id``, ``index``, ``task`` and ``domain`` (dicts, or compact stubs)."""
    if by not in BY:
        raise ValueError(f"mixture_by must be one of {', '.join(BY)}, not {by!r}")
    if unit not in ("row", "problem"):
        raise ValueError(f"mixture_unit must be 'row' or 'problem', not {unit!r}")
    mode = check_targets(targets)
    # candidates per key: an item is a row position (unit=row) or a problem id (unit=problem)
    items: dict[str, dict] = {}
    groups: dict[str, set] = {}
    unlisted: set[int] = set()
    for pos, r in enumerate(rows):
        g = group_of(r, by)
        key = _key_of(g, targets)
        if key is None:
            unlisted.add(pos)
            continue
        groups.setdefault(key, set()).add(g)
        item = r.get("problem_id") if unit == "problem" else pos
        sort_key = (str(r.get("problem_id")), r.get("index", 0) if unit == "row" else 0, pos)
        items.setdefault(key, {}).setdefault(item, sort_key)
    quota: dict[str, int] = {}
    if mode == "share":
        share_keys = [k for k in items if isinstance(targets[k], float)]
        if total is None:
            total = min((math.floor(len(items[k]) / targets[k]) for k in share_keys), default=0)
    for key, cands in items.items():
        t = targets[key]
        quota[key] = len(cands) if t == "all" else (t if mode == "count" else round(t * total))
    chosen: set = set()
    report = {}
    for key, cands in items.items():
        order = sorted(cands, key=lambda i: cands[i])
        n = min(quota[key], len(order))
        pick = order if n == len(order) else random.Random(f"{seed}:{key}").sample(order, n)
        chosen.update(pick)
        report[key] = {"groups": sorted(groups[key]), "available": len(order), "target": quota[key], "kept": n}
    for key in targets:
        report.setdefault(key, {"groups": [], "available": 0, "target": targets[key], "kept": 0})
    reasons = {}
    for pos, r in enumerate(rows):
        if pos in unlisted:
            reasons[pos] = f"mixture_unlisted:{group_of(r, by)}"
        elif (r.get("problem_id") if unit == "problem" else pos) not in chosen:
            reasons[pos] = "mixture_over_target"
    return reasons, report

"""Rejection sampling (which verified samples become SFT data) and preference pairs.

Contracts:

- ``select(verdicts, policy) -> (kept, dropped)``, ``policy`` in ``POLICIES``:

  - ``"all_correct"``: every eligible sample (Sky-T1-32B-Preview keeps every trace whose
    answer is verified, NovaSky blog "Sky-T1: Train your own O1 preview model within $450");
  - ``"shortest_correct"``: per problem, the eligible sample with the fewest completion tokens
    (ties: lowest ``index``);
  - ``"one_per_problem"``: per problem, the eligible sample with the lowest ``index``.

  A sample is eligible when it is correct and not truncated. Every dropped row is a copy with
  ``drop_reason``: ``"truncated"`` (``finish_reason == "length"``, whatever the verdict: an
  unfinished trace is never training data), ``"incorrect:<reason>"`` (the verifier's
  ``reason``), or ``"not_selected"`` (eligible, but the policy kept another sample). Kept and
  dropped rows keep their input order.

- ``preference_pairs(verdicts) -> list[dict]``: rows ``{"prompt", "chosen", "rejected",
  "problem_id", "kind"}`` (TRL's standard preference format, prompt = the problem's
  ``question``), built per problem from eligible-length (non-truncated) samples as in
  Sky-T1-32B-Flash (NovaSky blog "Think Less, Achieve More", 2025):

  - ``kind="shortest_vs_longest_correct"``: chosen = the shortest correct sample, rejected = the
    longest correct one, when their lengths differ (teaches brevity without losing accuracy);
  - ``kind="longer_correct_vs_short_incorrect"``: rejected = the shortest incorrect sample,
    chosen = the shortest correct sample that is longer than it (keeps the model from
    shortening into wrong answers on hard problems).

Length is ``usage.completion_tokens``; a row without it falls back to ``len(response)``.
Problems appear in order of first appearance.
"""

from __future__ import annotations

from skyt1.curation import partition

__all__ = ["PAIR_KINDS", "POLICIES", "PairCollector", "pick_pairs", "preference_pairs", "response_length", "select"]

POLICIES = ("all_correct", "shortest_correct", "one_per_problem")
PAIR_KINDS = ("shortest_vs_longest_correct", "longer_correct_vs_short_incorrect")


def response_length(row: dict) -> float:
    """Completion tokens of a sample (``len(response)`` when ``usage`` lacks them)."""
    n = (row.get("usage") or {}).get("completion_tokens")
    return n if isinstance(n, (int, float)) and not isinstance(n, bool) else len(row.get("response") or "")


def _pid(row: dict):
    return row.get("problem_id", row.get("id"))


def _index(row: dict, pos: int):
    i = row.get("index")
    return i if isinstance(i, int) else pos


def _ineligible(row: dict) -> str | None:
    if row.get("finish_reason") == "length":
        return "truncated"
    if row.get("correct") is not True:
        return f"incorrect:{row.get('reason') or 'unknown'}"
    return None


def select(verdicts: list[dict], policy: str) -> tuple[list[dict], list[dict]]:
    """Keep the samples that ``policy`` selects; see the module docstring."""
    if policy not in POLICIES:
        raise ValueError(f"unknown selection policy {policy!r}; known: {', '.join(POLICIES)}")
    reasons: dict[int, str] = {}
    groups: dict[object, list[int]] = {}
    for pos, row in enumerate(verdicts):
        why = _ineligible(row)
        if why:
            reasons[pos] = why
        else:
            groups.setdefault(_pid(row), []).append(pos)
    if policy != "all_correct":
        for positions in groups.values():
            if policy == "shortest_correct":
                best = min(positions, key=lambda p: (response_length(verdicts[p]), _index(verdicts[p], p), p))
            else:
                best = min(positions, key=lambda p: (_index(verdicts[p], p), p))
            reasons.update({p: "not_selected" for p in positions if p != best})
    return partition(verdicts, lambda pos, _: reasons.get(pos))


def _pair(prompt: str, chosen: dict, rejected: dict, kind: str) -> dict:
    return {
        "prompt": prompt,
        "chosen": chosen["response"],
        "rejected": rejected["response"],
        "problem_id": _pid(chosen),
        "kind": kind,
    }


def preference_pairs(verdicts: list[dict]) -> list[dict]:
    """Sky-T1-32B-Flash preference pairs; see the module docstring."""
    groups: dict[object, list[tuple[int, dict]]] = {}
    for pos, row in enumerate(verdicts):
        if row.get("finish_reason") != "length" and row.get("response"):
            groups.setdefault(_pid(row), []).append((pos, row))
    pairs = []
    for rows in groups.values():
        rows = sorted(rows, key=lambda pr: (response_length(pr[1]), _index(pr[1], pr[0]), pr[0]))
        correct = [r for _, r in rows if r.get("correct") is True]
        wrong = [r for _, r in rows if r.get("correct") is not True]
        prompt = str(rows[0][1].get("question", ""))
        if len(correct) >= 2 and response_length(correct[0]) < response_length(correct[-1]):
            pairs.append(_pair(prompt, correct[0], correct[-1], PAIR_KINDS[0]))
        if wrong:
            short_wrong = wrong[0]
            longer = [r for r in correct if response_length(r) > response_length(short_wrong)]
            if longer:
                pairs.append(_pair(prompt, longer[0], short_wrong, PAIR_KINDS[1]))
    return pairs


def pick_pairs(right: list[tuple], wrong: list[tuple]) -> list[tuple]:
    """The Flash pairs of one problem from its correct and incorrect ``(length, item)`` lists,
    each sorted by length: ``(chosen, rejected, kind)`` for the shortest against the longest
    correct one (when they differ in length), and for the shortest correct one longer than the
    shortest incorrect one against that incorrect one."""
    picks = []
    if len(right) >= 2 and right[0][0] < right[-1][0]:
        picks.append((right[0][1], right[-1][1], PAIR_KINDS[0]))
    if wrong:
        longer = [p for n, p in right if n > wrong[0][0]]
        if longer:
            picks.append((longer[0], wrong[0][1], PAIR_KINDS[1]))
    return picks


class PairCollector:
    """``preference_pairs`` over a stream of rows that are read back by position.

    ``add(pos, row)`` notes each candidate row (not truncated, with a response): its problem,
    length, index, position and verdict, 21 bytes, no text. ``ids`` maps a problem id to a
    dense int (``run.ProblemIds``; default: a dict of its own). ``pairs(get, excluded)``
    yields the same pairs as ``preference_pairs`` on those rows (problems in order of first
    appearance, ``excluded`` problems left out), reading the two responses of each pair back
    with ``get(pos)``; ``prompt`` is ``prompt_of(chosen row)`` (default: its ``question``)."""

    def __init__(self, ids=None):
        from array import array

        if ids is None:
            from skyt1.curation.run import ProblemIds

            ids = ProblemIds()
        self.ids = ids
        self._cols = {"pid": array("i"), "length": array("f"), "index": array("i"), "pos": array("q")}
        self._correct = bytearray()

    def add(self, pos: int, row: dict) -> None:
        if row.get("finish_reason") == "length" or not row.get("response"):
            return
        for col, v in (("pid", self.ids(_pid(row))), ("length", response_length(row)), ("index", _index(row, pos)),
                       ("pos", pos)):
            self._cols[col].append(v)
        self._correct.append(row.get("correct") is True)

    def _groups(self):
        import numpy as np

        kinds = {"pid": np.int32, "length": np.float32, "index": np.int32, "pos": np.int64}
        c = {k: np.frombuffer(v, dtype=kinds[k]) for k, v in self._cols.items()}
        if not len(c["pos"]):
            return
        correct = np.frombuffer(bytes(self._correct), dtype=np.uint8)
        by_pid = np.argsort(c["pid"], kind="stable")  # each row's problem's first candidate position
        starts = np.flatnonzero(np.r_[True, np.diff(c["pid"][by_pid]) != 0])
        first = np.empty_like(c["pos"])
        first[by_pid] = np.repeat(np.minimum.reduceat(c["pos"][by_pid], starts), np.diff(np.r_[starts, len(by_pid)]))
        order = np.lexsort((c["pos"], c["index"], c["length"], first))
        bounds = np.r_[0, np.flatnonzero(np.diff(first[order])) + 1, len(order)]
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
            group = order[a:b]
            yield (self.ids.names[int(c["pid"][group[0]])], c["length"][group].tolist(), c["pos"][group].tolist(),
                   correct[group].astype(bool).tolist())

    def pairs(self, get, excluded=frozenset(), prompt_of=None):
        for pid, lengths, positions, ok in self._groups():
            if pid in excluded:
                continue
            right = [(n, p) for n, p, c in zip(lengths, positions, ok) if c]
            wrong = [(n, p) for n, p, c in zip(lengths, positions, ok) if not c]
            for chosen, rejected, kind in pick_pairs(right, wrong):
                row = get(chosen)
                prompt = prompt_of(row) if prompt_of is not None else row.get("question", "")
                yield _pair(str(prompt), row, get(rejected), kind)

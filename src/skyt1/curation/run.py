"""Running curation steps over a stream of rows: the source, the loop and its one log.

- ``Source(rows_or_path, batch=2048)``: rows from a list or a JSONL file, read in batches of
  ``batch`` rows (``batches()`` yields ``(start, rows)``, and can be iterated again for another
  pass); ``get(pos)`` reads one row back (a file source remembers each line's byte offset:
  8 bytes a row); ``raw(row)`` is the line a row of the current batch was read from, so an
  unchanged row is written back without encoding it again. Lines are checked for ``required``
  fields as in ``records.read_jsonl``.
- ``run_steps(steps, source, log, sink, tap=None)``: prepares the steps that need a pass
  (``Step.needs_pass``: the steps before it run on every batch, then ``observe``, then
  ``settle``), then runs every batch through every step in order into ``log`` and hands the
  kept rows to ``sink(rows)``; ``tap(start, rows)`` sees each raw input batch of that last pass.
  Memory: one batch of rows at a time, plus what the steps keep.
- ``Log(steps, dropped_path)``: per logged step, rows in and kept, problems in and kept, and
  rows dropped by reason (the part before the first ``:``), as the summary's ``steps``; every
  dropped row goes straight to ``dropped.jsonl`` with ``dropped_at``. Memory: two bytes per
  problem (how far its rows got; whether it was dropped at a problem-level step), plus one
  entry per problem removed at ``gold``, ``dedup`` and ``decontaminate`` (the summary's
  ``removed``).
"""

from __future__ import annotations

import json
import sys
from array import array
from collections import Counter
from pathlib import Path

from skyt1.jsonl import parse_record

__all__ = ["PROBLEM_LEVEL", "Log", "ProblemIds", "Source", "run_steps"]

PROBLEM_LEVEL = ("gold", "dedup", "decontaminate", "difficulty")


class ProblemIds:
    """Problem id -> a dense int, in order of first appearance in the input (``run_steps``
    registers every input row first); ``names[i]`` is the id back. The one dict keyed by
    problem: the steps and the log keep arrays indexed by these ints (about 100 bytes a problem
    here, a few bytes in each index)."""

    def __init__(self):
        self._ids: dict[str, int] = {}
        self.names: list[str] = []

    def __call__(self, pid: str) -> int:
        i = self._ids.get(pid)
        if i is None:
            i = self._ids[pid] = len(self.names)
            self.names.append(pid)
        return i

    def __len__(self) -> int:
        return len(self.names)


class Flags:
    """A set of problem ids as one byte per problem: ``add(pid)``, ``pid in flags``."""

    def __init__(self, ids: ProblemIds):
        self.ids, self.bits = ids, bytearray()

    def add(self, pid: str) -> None:
        i = self.ids(pid)
        if i >= len(self.bits):
            self.bits.extend(bytes(len(self.ids) - len(self.bits)))
        self.bits[i] = 1

    def __contains__(self, pid: str) -> bool:
        i = self.ids(pid)
        return i < len(self.bits) and self.bits[i] == 1


class Source:
    """Rows from a list or a JSONL file, in batches; see the module docstring."""

    def __init__(self, rows, batch: int = 2048, required: tuple[str, ...] = ()):
        self.batch, self.required = batch, required
        self._rows = rows if isinstance(rows, list) else None
        self.path = None if self._rows is not None else Path(rows)
        self._offsets: array | None = None
        self._fh = None
        self._raw: dict[int, bytes] = {}  # id(row) -> its line, for the rows of the current batch
        self.n = len(self._rows) if self._rows is not None else None

    def batches(self):
        if self._rows is not None:
            for start in range(0, len(self._rows), self.batch):
                yield start, self._rows[start : start + self.batch]
            return
        yield from self._read()

    def _read(self):
        offsets, pos, out, start = array("q"), 0, [], 0
        with self.path.open("rb", buffering=1 << 20) as fh:
            for lineno, line in enumerate(fh, 1):
                at, pos = pos, pos + len(line)
                if line.isspace():  # (no copy of a long line, unlike strip)
                    continue
                out.append(self._parse(line, lineno))
                self._raw[id(out[-1])] = line
                offsets.append(at)
                if len(out) == self.batch:
                    yield start, out
                    start, out, self._raw = start + len(out), [], {}
        if out:
            yield start, out
        self._raw = {}
        self._offsets, self.n = offsets, len(offsets)

    def _parse(self, line: bytes, lineno: int) -> dict:
        obj = parse_record(line, self.path, lineno, self.required)
        if isinstance(obj.get("problem_id"), str):  # one string per problem in every index that keys on it
            obj["problem_id"] = sys.intern(obj["problem_id"])
        return obj

    def raw(self, row: dict) -> bytes | None:
        """The input line of ``row`` (UTF-8, without its line ending) when it is a row of the
        current batch as read (not a copy)."""
        line = self._raw.get(id(row))
        return None if line is None else line.rstrip(b"\r\n")

    def get(self, pos: int) -> dict:
        if self._rows is not None:
            return self._rows[pos]
        if self._fh is None:
            self._fh = self.path.open("rb")
        self._fh.seek(self._offsets[pos])
        return json.loads(self._fh.readline())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _origins(rows_in: list[dict], kept: list[dict], dropped: list[dict]) -> list[dict | None]:
    """The input row of each dropped one, when ``kept`` holds rows of ``rows_in`` themselves
    and both keep their order (else None for each)."""
    if len(kept) + len(dropped) != len(rows_in):
        return [None] * len(dropped)
    out, j = [], 0
    for r in rows_in:
        if j < len(kept) and kept[j] is r:
            j += 1
        else:
            out.append(r)
    return out if j == len(kept) else [None] * len(dropped)


def _short(text, n: int = 300) -> str:
    text = str(text or "")
    return text if len(text) <= n else text[: n - 3] + "..."


_LISTED = {
    "gold": ("missing_gold", lambda d: {"missing": d["drop_reason"].split(":")[1]}),
    "dedup": ("duplicates", lambda d: {"duplicate_of": d["drop_reason"].split(":", 1)[1],
                                       "method": d["drop_reason"].split(":")[0],
                                       "similarity": d.get("drop_detail", 1.0)}),
    "decontaminate": ("contaminated", lambda d: dict(d["contamination"])),
}


class Log:
    """Counts per step and the dropped rows; see the module docstring."""

    def __init__(self, names: list[str], dropped_path: Path, ids: ProblemIds, raw=None):
        self.names, self.ids, self.raw = names, ids, raw
        self.counts = [{"in": 0, "kept": 0, "dropped": Counter()} for _ in names]
        self.extra: list[dict] = [{} for _ in names]
        self.depth = bytearray()  # per problem: 1 + the last step one of its rows passed
        self.removed: dict[str, list] = {"missing_gold": [], "duplicates": [], "contaminated": []}
        self.excluded = Flags(ids)  # problems dropped at a problem-level step
        self._listed: dict[str, Flags] = {}
        self.dropped_path = Path(dropped_path)
        self._fh = None

    def __enter__(self) -> Log:
        self._fh = self.dropped_path.open("wb", buffering=1 << 20)
        return self

    def __exit__(self, *exc) -> None:
        self._fh.close()

    def record(self, k: int, rows_in: list[dict], kept: list[dict], dropped: list[dict]) -> None:
        name, c = self.names[k], self.counts[k]
        c["in"] += len(rows_in)
        c["kept"] += len(kept)
        if len(self.depth) < len(self.ids):
            self.depth.extend(bytes(len(self.ids) - len(self.depth)))
        for r in kept:
            i = self.ids(r["problem_id"])
            if self.depth[i] <= k:
                self.depth[i] = k + 1
        seen_listed = self._listed.setdefault(name, Flags(self.ids))
        for d, line in zip(dropped, self._lines(rows_in, kept, dropped, name), strict=True):
            c["dropped"][d["drop_reason"].split(":")[0]] += 1
            self._fh.write(line)
            if name in PROBLEM_LEVEL:
                self.excluded.add(d["problem_id"])
            if name in _LISTED and d["problem_id"] not in seen_listed:
                seen_listed.add(d["problem_id"])
                self.removed[_LISTED[name][0]].append({"problem_id": d["problem_id"], "task": d.get("task"),
                                                       "question": _short(d.get("question")), **_LISTED[name][1](d)})

    def _lines(self, rows_in: list[dict], kept: list[dict], dropped: list[dict], name: str):
        """Each dropped row's line of ``dropped.jsonl``: ``{**d, "dropped_at": name}`` as JSON. A
        copy of an input row as read with fields added (``partition``'s ``{**row, ...}``) is its
        input line with the new fields appended (the same JSON when the input was written by
        ``json.dumps(ensure_ascii=False)``, as skyt1's stages write it), else encoded in full."""
        origins = _origins(rows_in, kept, dropped) if self.raw is not None else [None] * len(dropped)
        for d, r in zip(dropped, origins, strict=True):
            line = self.raw(r) if r is not None and "dropped_at" not in r else None
            if line is not None and line.endswith(b"}") and r and len(d) > len(r):
                added = {k: v for k, v in d.items() if k not in r}
                if len(added) + len(r) == len(d) and all(d[k] is v for k, v in r.items()):
                    added["dropped_at"] = name
                    yield line[:-1] + b", " + json.dumps(added, ensure_ascii=False)[1:].encode("utf-8") + b"\n"
                    continue
            yield (json.dumps({**d, "dropped_at": name}, ensure_ascii=False) + "\n").encode("utf-8")

    def problems_kept(self) -> int:
        """Problems with a row past every step."""
        return sum(1 for d in self.depth if d == len(self.names))

    def steps(self) -> list[dict]:
        counts = Counter(self.depth)
        at_least = [sum(n for d, n in counts.items() if d >= k) for k in range(len(self.names) + 1)]
        return [{"step": name, "in": c["in"], "kept": c["kept"], "problems_in": at_least[k] if k else len(self.depth),
                 "problems_kept": at_least[k + 1], "dropped": dict(c["dropped"]), **self.extra[k]}
                for k, (name, c) in enumerate(zip(self.names, self.counts))]


def _through(steps, batch: list[dict]) -> list[dict]:
    for step in steps:
        if not batch:
            break
        batch = step(batch)[0]
    return batch


def run_steps(steps, source: Source, log: Log, sink, tap=None) -> None:
    """Prepare, then run every batch through ``steps``; see the module docstring."""
    ids = log.ids
    for k, step in enumerate(steps):
        if step.needs_pass:
            for s in steps[:k]:
                s.rewind()
            for _, batch in source.batches():
                for r in batch:
                    ids(r["problem_id"])
                if rows := _through(steps[:k], batch):
                    step.observe(rows)
            step.settle()
    for s in steps:
        s.rewind()
    index = {s.name: i for i, s in enumerate(s for s in steps if s.logged)}
    for start, batch in source.batches():
        for r in batch:
            ids(r["problem_id"])
        if tap is not None:
            tap(start, batch)
        for step in steps:
            kept, dropped = step(batch) if batch else ([], [])
            if step.logged:
                log.record(index[step.name], batch, kept, dropped)
            batch = kept
        sink(batch)
    for step in steps:
        if step.logged:
            log.extra[index[step.name]] = step.report()

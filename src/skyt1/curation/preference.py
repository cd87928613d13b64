"""Preference pairs written as the rows stream by, and the writer of their exports.

- ``PreferenceWriter(out_dir, name, system)``: ``write_preference_exports`` one pair at a time.
- ``StreamedPairs(collector, writer, excluded)``: the pairs of ``select.PairCollector`` written
  while the curate stage reads its input, without reading rows back, when each problem's rows
  come near each other (within ``WINDOW`` rows; the rewrite stage writes rows as they finish,
  about 500 rows apart at most). ``tap(pos, row, candidate)`` sees every input row before the
  steps run on its batch; ``flush(user_key)`` after them writes the pairs of the problems whose
  rows are over (none for ``window`` rows: ``excluded`` is final for them), in order of their
  first candidate; ``finish(user_key)`` -> whether the written files hold what
  ``PairCollector.pairs`` would give: False when a problem's row came after it was taken as
  over, too many rows waited, or the user turn's key changed (the caller then writes the pairs
  again from the collector, which ``tap`` feeds too). Memory: the response and question of
  each candidate of the last ``window`` rows (about 10 kB each for Sky-T1-length traces), and
  a byte per problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skyt1.curation.run import Flags
from skyt1.curation.export import JsonListWriter, JsonlWriter, add_dataset_info, json_str, preference_info_entry
from skyt1.curation.select import _index, _pair, _pid, pick_pairs, response_length

__all__ = ["PreferenceWriter", "StreamedPairs", "write_preference_exports"]


class PreferenceWriter:
    """``write_preference_exports`` one pair at a time: ``add(pair)``, then ``close()`` -> the
    paths (``close(ok=False)``: nothing is written). Memory: none per pair."""

    def __init__(self, out_dir: Path, name: str, system: str):
        self.out_dir, self.name = Path(out_dir), name
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.paths = {
            "preference": self.out_dir / f"{name}_preference.jsonl",
            "preference_sharegpt": self.out_dir / f"{name}_preference_sharegpt.json",
            "dataset_info": self.out_dir / "dataset_info.json",
        }
        self._trl = JsonlWriter(self.paths["preference"])
        self._sharegpt = JsonListWriter(self.paths["preference_sharegpt"])
        self._sys = json_str(system)
        self._head = f'{{"role": "system", "content": {self._sys}}}, ' if system else ""

    def add(self, p: dict) -> None:
        """One pair; each text is encoded once for both files (the same JSON as ``json.dumps`` of
        ``to_preference_messages`` / ``to_preference_sharegpt``)."""
        user, chosen, rejected = (json_str(str(p[k])) for k in ("prompt", "chosen", "rejected"))
        pid, kind = (json_str(str(p.get(k, ""))) for k in ("problem_id", "kind"))
        self._trl.write_raw(f'{{"prompt": [{self._head}{{"role": "user", "content": {user}}}], '
                            f'"chosen": [{{"role": "assistant", "content": {chosen}}}], '
                            f'"rejected": [{{"role": "assistant", "content": {rejected}}}], '
                            f'"problem_id": {pid}, "kind": {kind}}}')
        self._sharegpt.write_raw(f'{{"system": {self._sys}, "conversations": [{{"from": "user", "value": {user}}}], '
                                 f'"chosen": {{"from": "assistant", "value": {chosen}}}, '
                                 f'"rejected": {{"from": "assistant", "value": {rejected}}}}}')

    def close(self, ok: bool = True) -> dict[str, Path]:
        self._trl.close(ok)
        self._sharegpt.close(ok)
        if ok:
            entry = preference_info_entry(self.paths["preference_sharegpt"].name)
            add_dataset_info(self.paths["dataset_info"], f"{self.name}_preference", entry)
        return self.paths


def write_preference_exports(pairs, out_dir: Path, name: str, system: str) -> dict[str, Path]:
    """Write the preference pairs (any iterable, read once) for TRL and LLaMA-Factory; see the
    module docstring. Returns the paths. Each text is encoded once for both files."""
    writer = PreferenceWriter(out_dir, name, system)
    for p in pairs:
        writer.add(p)
    return writer.close()


WINDOW = 2048  # rows after a problem's last row before it is taken as over (rewrite reorders by ~500)
_KEEP = ("problem_id", "id", "question", "prompt", "response", "correct")  # what a pair takes from a row


class StreamedPairs:
    """Pairs written while the rows stream by; see the module docstring."""

    def __init__(self, collector, writer: PreferenceWriter, excluded, window: int = WINDOW):
        self.collector, self.writer, self.excluded, self.window = collector, writer, excluded, window
        self.ok = True
        self.kinds: dict[str, int] = {}
        self._last: dict = {}  # open problem -> position of its last row
        self._queue: dict = {}  # problem -> its candidates, in order of the first one
        self._queued = 0
        self._closed = Flags(collector.ids)
        self._keys: set = set()
        self._pos = 0

    def _fail(self) -> None:
        self.ok, self._last, self._queue = False, {}, {}

    def tap(self, pos: int, row: dict, candidate: bool) -> None:
        if candidate:
            self.collector.add(pos, row)
        if not self.ok:
            return
        pid, self._pos = _pid(row), pos + 1
        if pid in self._closed or self._queued > 4 * self.window:  # rows far apart: the collector's pairs
            return self._fail()
        self._last[pid] = pos
        if candidate and row.get("finish_reason") != "length" and row.get("response"):
            keep = {k: row[k] for k in _KEEP if k in row}
            self._queue.setdefault(pid, []).append((float(np.float32(response_length(row))), _index(row, pos), pos,
                                                    keep))
            self._queued += 1

    def flush(self, user_key: str, final: bool = False) -> None:
        """Write the pairs of the problems over (all of them when ``final``), in order of first candidate."""
        if not self.ok:
            return
        self._keys.add(user_key)
        for pid in [p for p, last in self._last.items() if final or last < self._pos - self.window]:
            self._closed.add(pid)
            del self._last[pid]
        while self._queue:
            pid = next(iter(self._queue))
            if pid in self._last:
                break
            rows = self._queue.pop(pid)
            self._queued -= len(rows)
            if pid not in self.excluded:
                for pair in _pairs(sorted(rows, key=lambda r: r[:3]), user_key):
                    self.kinds[pair["kind"]] = self.kinds.get(pair["kind"], 0) + 1
                    self.writer.add(pair)

    def finish(self, user_key: str) -> bool:
        self.flush(user_key, final=True)
        self.ok = self.ok and self._keys <= {user_key}
        return self.ok


def _pairs(rows: list[tuple], user_key: str):
    """``PairCollector.pairs`` of one problem's candidates, sorted by (length, index, position)."""
    right = [(n, r) for n, _, _, r in rows if r.get("correct") is True]
    wrong = [(n, r) for n, _, _, r in rows if r.get("correct") is not True]
    for chosen, rejected, kind in pick_pairs(right, wrong):
        yield _pair(str(chosen.get(user_key, chosen.get("question"))), chosen, rejected, kind)

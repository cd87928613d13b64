"""MinHash LSH for streams: a banded index in sorted numpy runs, and the near-duplicate index.

- ``lsh_bands(threshold, num_perm, recall=0.99) -> (bands, rows)``: the most rows per band for
  which a pair at ``threshold`` becomes a candidate with probability
  ``1 - (1 - threshold^rows)^bands >= recall`` (0.8 and 128 permutations: 21 bands of 6 rows,
  0.998). An index built *at* the threshold it checks (datasketch's choice, ``optimal_bands``:
  9 bands of 13 rows at 0.8) makes a pair at 0.8 a candidate only 40% of the time.
- ``optimal_bands(threshold, num_perm)``: datasketch ``MinHashLSH``'s choice, minimising false
  positives below ``threshold`` plus false negatives above it.
- ``Bands(bands, rows)``: ``add(item, sig)``, ``query(sig) -> sorted items`` sharing a band.
  Each band of a signature is one 64-bit key (band number mixed in); keys wait in a small dict
  and are then merged into sorted numpy runs of geometric sizes (a log-structured merge), so an
  entry costs 12 bytes (key and item) instead of a Python dict entry's ~100.
- ``NearIndex(threshold, num_perm, same_numbers=True)``: ``query(sig, numbers_key)`` -> the
  most similar added item at or above ``threshold`` (ties: the earliest) and its estimate;
  ``add(ident, sig, numbers_key)``. The estimate compares the low 16 bits of each position
  (a spurious match is 1 in 65,536, below the estimate's own error by far). Memory per added
  item: its signature (``2 num_perm`` bytes), its numbers key (8) and its band entries
  (``12 bands``): 516 bytes at 128 permutations, plus its ``ident`` (shared with the caller).
"""

from __future__ import annotations

import numpy as np

__all__ = ["Bands", "NearIndex", "Rows", "Runs", "lsh_bands", "optimal_bands"]


def lsh_bands(threshold: float, num_perm: int = 128, recall: float = 0.99) -> tuple[int, int]:
    """See the module docstring."""
    best = (num_perm, 1)
    for r in range(1, num_perm + 1):
        b = num_perm // r
        if 1 - (1 - threshold**r) ** b >= recall:
            best = (b, r)
    return best


def optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    """datasketch's ``MinHashLSH`` choice (equal weights, trapezoid integration)."""
    best, err = (1, 1), float("inf")
    lo, hi = np.linspace(0.0, threshold, 201), np.linspace(threshold, 1.0, 201)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(1 - (1 - lo**r) ** b, lo)
            fn = np.trapezoid((1 - hi**r) ** b, hi)
            if fp + fn < err:
                best, err = (b, r), fp + fn
    return best


_MIX = np.random.default_rng(12345).integers(1, 1 << 63, size=64, dtype=np.uint64) | np.uint64(1)


class Rows:
    """A growable table of fixed-width rows (``width`` values of ``dtype``) kept in chunks of
    ``chunk`` rows: growing never copies, and at most one chunk is unused."""

    def __init__(self, width: int, dtype=np.uint32, chunk: int = 8192):
        self.width, self.dtype, self.chunk = width, dtype, chunk
        self._chunks: list[np.ndarray] = []
        self.n = 0

    def append(self, row) -> int:
        if self.n == len(self._chunks) * self.chunk:
            self._chunks.append(np.zeros((self.chunk, self.width), dtype=self.dtype))
        i, self.n = self.n, self.n + 1
        self._chunks[i // self.chunk][i % self.chunk, : len(row)] = row
        return i

    def __getitem__(self, i: int) -> np.ndarray:
        return self._chunks[i // self.chunk][i % self.chunk]

    def take(self, rows: list[int]) -> np.ndarray:
        return np.stack([self[i] for i in rows]) if rows else np.zeros((0, self.width), self.dtype)


class Runs:
    """A multimap from 64-bit keys to int items in 12 bytes an entry: new entries wait in a
    small dict, then merge into sorted numpy runs of geometric sizes (a log-structured merge,
    O(log n) runs up to ``largest`` entries, then one more run per ``largest`` entries, so that a
    merge never copies more than ``largest`` entries), each run searched with
    ``np.searchsorted``. Items come back in insertion order."""

    def __init__(self, buffer: int = 32768, largest: int = 1 << 19):
        self.buffer, self.largest = buffer, largest  # runs are not merged past ``largest`` entries
        self._pending: dict[int, list[int]] = {}
        self._n_pending = 0
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted keys uint64, items int32)

    def add(self, key: int, item: int) -> None:
        self._pending.setdefault(key, []).append(item)
        self._n_pending += 1
        if self._n_pending >= self.buffer:
            self._flush()

    def _flush(self) -> None:
        keys = np.fromiter((k for k, items in self._pending.items() for _ in items), np.uint64, self._n_pending)
        items = np.fromiter((i for v in self._pending.values() for i in v), np.int32, self._n_pending)
        order = np.argsort(keys, kind="stable")
        self._runs.append((keys[order], items[order]))
        self._pending, self._n_pending = {}, 0
        while len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]) and (
                len(self._runs[-2][0]) + len(self._runs[-1][0]) <= self.largest):
            (k1, i1), (k2, i2) = self._runs.pop(), self._runs.pop()
            keys, items = np.concatenate([k2, k1]), np.concatenate([i2, i1])
            order = np.argsort(keys, kind="stable")
            self._runs.append((keys[order], items[order]))

    def get_many(self, keys: np.ndarray) -> set[int]:
        """The items of any of ``keys``."""
        found = {i for k in keys.tolist() for i in self._pending.get(k, ())}
        for run_keys, run_items in self._runs:
            lo, hi = np.searchsorted(run_keys, keys, "left"), np.searchsorted(run_keys, keys, "right")
            for a, b in zip(lo.tolist(), hi.tolist()):
                if b > a:
                    found.update(run_items[a:b].tolist())
        return found

    def get(self, key: int) -> list[int]:
        """The items of ``key``, oldest first."""
        out = [int(i) for run_keys, run_items in self._runs
               for i in run_items[np.searchsorted(run_keys, key, "left"):np.searchsorted(run_keys, key, "right")]]
        return out + self._pending.get(key, [])


class Bands:
    """A banded LSH index over ``Runs``; see the module docstring."""

    def __init__(self, bands: int, rows: int, buffer: int = 32768, largest: int = 1 << 19):
        self.bands, self.rows = bands, rows
        self._salt = np.arange(bands, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        self._runs = Runs(buffer, largest)

    def keys(self, sig: np.ndarray) -> np.ndarray:
        """One 64-bit key per band."""
        m = sig[: self.bands * self.rows].reshape(self.bands, self.rows).astype(np.uint64)
        return (m * _MIX[: self.rows]).sum(axis=1, dtype=np.uint64) ^ self._salt

    def add(self, item: int, sig: np.ndarray) -> None:
        for k in self.keys(sig).tolist():
            self._runs.add(k, item)

    def query(self, sig: np.ndarray) -> list[int]:
        """The items sharing at least one band with ``sig``, sorted."""
        return sorted(self._runs.get_many(self.keys(sig)))


class NearIndex:
    """Streaming MinHash LSH over kept items; see the module docstring."""

    def __init__(self, threshold: float = 0.8, num_perm: int = 128, *, same_numbers: bool = True):
        self.threshold, self.same_numbers = threshold, same_numbers
        self.bands, self.rows = lsh_bands(threshold, num_perm)
        self._lsh = Bands(self.bands, self.rows)
        self._sigs = Rows(num_perm, np.uint16)  # the low 16 bits: 1 / 65536 of positions collide
        self._nums = Rows(1, np.uint64)
        self.ids: list[str] = []

    def query(self, sig: np.ndarray, nums: int) -> tuple[str, float] | None:
        """The most similar kept item at or above the threshold (ties: the earliest), with the estimate."""
        cands = self._lsh.query(sig)
        if not cands:
            return None
        sims = (self._sigs.take(cands) == sig.astype(np.uint16)).mean(axis=1)
        best, best_j = None, -1.0
        for c, j in zip(cands, sims.tolist()):
            if j >= self.threshold and j > best_j and (not self.same_numbers or nums == int(self._nums[c][0])):
                best, best_j = c, j
        return None if best is None else (self.ids[best], best_j)

    def add(self, ident: str, sig: np.ndarray, nums: int) -> None:
        pos = self._sigs.append(sig.astype(np.uint16))
        self._nums.append([nums])
        self._lsh.add(pos, sig)
        self.ids.append(ident)

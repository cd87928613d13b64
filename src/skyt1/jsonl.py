"""JSONL files, one object a line, UTF-8: reading them with the required fields checked, batching,
writing JSON atomically, and cutting the torn last line a killed writer leaves. ``skyt1.records``
re-exports these names (its run store is built on them)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class RecordError(ValueError):
    """Bad input: the message names the file, the line and the field."""


def read_jsonl(path: str | Path, required: Iterable[str] = ()) -> Iterator[dict]:
    """Yield the objects of a JSONL file, checking that each has the ``required`` fields.

    Raises ``RecordError("FILE:LINE: ...")`` on a malformed line, a non-object line or a
    missing field. Blank lines are skipped.
    """
    path = Path(path)
    required = tuple(required)
    try:
        fh = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise RecordError(f"{path}: file not found") from None
    with fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            yield parse_record(line, path, lineno, required)


def parse_record(line: str | bytes, path: str | Path, lineno: int, required: Iterable[str] = ()) -> dict:
    """One JSONL line as an object with the ``required`` fields, else ``RecordError("FILE:LINE: ...")``."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}:{lineno}: malformed JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(obj, dict):
        raise RecordError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
    for name in required:
        if name not in obj:
            raise RecordError(f"{path}:{lineno}: missing field '{name}'")
    return obj


def batched(items: Iterable, n: int) -> Iterator[list]:
    """Lists of ``n`` consecutive items (the last one shorter): a stage holds one batch at a time."""
    if n < 1:
        raise ValueError(f"batch size must be at least 1, got {n}")
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write JSON so that readers see either the old file or the whole new one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, ensure_ascii=False, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _repair_tail(path: Path) -> int:
    """Cut a torn last line (no trailing newline) left by a kill; return bytes dropped."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with path.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 1))
        if fh.read(1) == b"\n":
            return 0
        # Walk back to the last newline; everything after it is a partial record.
        pos = size
        while pos > 0:
            step = min(1 << 16, pos)
            fh.seek(pos - step)
            buf = fh.read(step)
            nl = buf.rfind(b"\n")
            if nl >= 0:
                keep = pos - step + nl + 1
                break
            pos -= step
        else:
            keep = 0
        fh.truncate(keep)
        return size - keep

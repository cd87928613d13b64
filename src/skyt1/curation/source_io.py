"""Reading a source's rows: a local file (``.jsonl``, ``.jsonl.gz``, ``.json`` holding a list,
``.parquet``) or a hub dataset (``datasets.load_dataset(hub, config, split=split)``, hub only).

A hub set's ``where`` (column -> value or list of values) is applied on its Arrow columns before
any row is turned into a Python dict: NuminaMath-sized sets hold close to a million rows.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path

__all__ = ["read_file", "read_hub", "resolve_path"]


def read_file(path: Path) -> list[dict]:
    """Every row of a local source file, in file order."""
    name = path.name
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        if name.endswith((".jsonl", ".jsonl.gz")):
            return [json.loads(line) for line in fh if line.strip()]
        if name.endswith((".json", ".json.gz")):
            data = json.load(fh)
            if not isinstance(data, list):
                raise ValueError(f"{path}: a JSON source holds a list of objects")
            return data
    raise ValueError(f"{path}: unsupported source file (use .jsonl, .jsonl.gz, .json or .parquet)")


def resolve_path(spec: dict, base_dir: str | Path | None) -> Path:
    """A ``path`` source's file, relative to ``base_dir``; FileNotFoundError naming the spec's path."""
    path = Path(str(spec["path"]))
    if base_dir is not None and not path.is_absolute():
        path = Path(base_dir) / path
    if not path.is_file():
        raise FileNotFoundError(f"source {spec['path']!r}: no such file ({path})")
    return path


def read_hub(spec: dict) -> Iterable[dict]:
    """The rows of a ``hub`` source's split that match its ``where``; RuntimeError when the hub is off."""
    from skyt1.tasks._data import use_hub

    if not use_hub():
        raise RuntimeError(
            f"source {spec['hub']} is on the hub, which is not in use (check the network, unset "
            "HF_HUB_OFFLINE, or set SKYT1_DATA_SOURCE=hub; gated sets also need HF_TOKEN)"
        )
    import datasets

    ds = datasets.load_dataset(spec["hub"], spec.get("config"), split=spec.get("split") or "train")
    where = spec.get("where") or {}
    if where:
        keep = None
        for col, want in where.items():
            if col not in ds.column_names:
                raise ValueError(f"source {spec['hub']}: where.{col}: no such column ({', '.join(ds.column_names)})")
            wanted = set(want) if isinstance(want, list) else {want}
            hits = {i for i, v in enumerate(ds[col]) if v in wanted}
            keep = hits if keep is None else keep & hits
        ds = ds.select(sorted(keep or ()))
    return (dict(r) for r in ds)

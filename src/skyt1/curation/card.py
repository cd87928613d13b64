"""The dataset card and the Hugging Face dataset of the curated set.

- ``dataset_card(cfg, steps, stage_dir, pairs, sources, teachers, rewriters)``: the card's
  content: sources (kept rows per task), counts per step, the filters (the recipe's non-empty
  curate settings), teacher, rewriter, and the cost summed from the ``generate``, ``score`` and
  ``rewrite`` manifests next to the curate directory.
- ``provenance(row)``: the per-row columns of the HF dataset besides ``messages``.
- ``hf_features()``: the HF dataset's columns, for ``save_hf_dataset(..., features=)``.
- ``render_card(card, n_rows, columns)`` and ``save_hf_dataset(rows, out_dir, card, repo_id)``:
  see ``curation.export``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from skyt1.cost import sum_ledgers

__all__ = ["dataset_card", "hf_features", "provenance", "render_card", "save_hf_dataset"]


def provenance(r: dict) -> dict:
    answer = r.get("answer")
    return {"problem_id": str(r["problem_id"]), "task": str(r.get("task", "")), "domain": str(r.get("domain", "")),
            "answer": None if answer is None else str(answer), "teacher": str(r.get("model", "")),
            "difficulty": r.get("difficulty"), "n_tokens": r.get("n_tokens")}


def _cost(stage_dir: Path):
    ledgers, stages = [], []
    for name in ("generate", "score", "rewrite"):
        m = Path(stage_dir).parent / name / "manifest.json"
        if m.is_file():
            cost = json.loads(m.read_text(encoding="utf-8")).get("cost") or {}
            if cost:
                ledgers.append(cost)
                stages.append(name)
    if not ledgers:
        return "not recorded (no generate/score/rewrite manifests next to the curate directory)"
    total = sum_ledgers(ledgers)
    return {"stages": ", ".join(stages), "usd": total["usd"]["total"], "prompt_tokens": total["prompt_tokens"],
            "completion_tokens": total["completion_tokens"], "gpu_hours": round(total["gpu_seconds"] / 3600, 3)}


def dataset_card(cfg, steps: list[dict], stage_dir: Path, pairs: dict | None, sources: dict,
                 teachers: set, rewriters: set) -> dict:
    """The dataset card's content; see the module docstring."""
    counts = {s["step"]: f"{s['in']} -> {s['kept']}" + (f" (dropped: {s['dropped']})" if s["dropped"] else "")
              for s in steps}
    counts["preference pairs"] = (pairs or {}).get("n", 0)
    filters = {k: v for k, v in cfg.model_dump(exclude={"card", "name", "push_to_hub", "ray"}).items()
               if v not in (None, [], {})}
    return {
        "name": cfg.name,
        **cfg.card,
        "sources": dict(sources),
        "counts": counts,
        "filters": filters,
        "teacher": sorted(teachers) or "unknown",
        "rewriter": sorted(rewriters) or "unknown",
        "cost": _cost(stage_dir),
    }


def _section(title: str, value) -> str:
    if isinstance(value, dict):
        body = "| | |\n|---|---|\n" + "\n".join(f"| {k} | {_inline(v)} |" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        body = "\n".join(f"- {_inline(v)}" for v in value)
    else:
        body = _inline(value)
    return f"## {title}\n\n{body or '(none)'}\n"


def _inline(v) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
    return text.replace("|", "\\|").replace("\n", " ")


def render_card(card: dict, n_rows: int, columns: list[str]) -> str:
    """A markdown dataset card: YAML header, then a section per ``card`` key."""
    title = card.get("name", "skyt1 curated dataset")
    lines = [
        "---",
        f"license: {card.get('license', 'other')}",
        "task_categories:",
        "- text-generation",
        "tags:",
        "- reasoning",
        "- skyt1",
        "---",
        "",
        f"# {title}",
        "",
    ]
    if card.get("description"):
        lines += [str(card["description"]), ""]
    lines += [f"{n_rows} rows; columns: {', '.join(f'`{c}`' for c in columns)}.", ""]
    known = ["sources", "counts", "filters", "teacher", "rewriter", "cost"]
    for key in known + [k for k in card if k not in known + ["name", "description", "license"]]:
        if key in card or key in known:
            lines.append(_section(key.capitalize(), card.get(key, "")))
    return "\n".join(lines)


def _to_dataset(rows: list[dict]):
    from datasets import Dataset

    columns = list(dict.fromkeys(k for r in rows for k in r))
    mapping = {k: [r.get(k) for r in rows] for k in columns}
    try:
        return Dataset.from_dict(mapping)
    except (TypeError, ValueError):  # pyarrow's ArrowTypeError / ArrowInvalid: mixed types
        pass
    try:
        return Dataset.from_dict(mapping, on_mixed_types="use_json")
    except TypeError:  # datasets < 4.7: store the mixed columns as JSON text
        for k, vals in mapping.items():
            kinds = {type(v) for v in vals if v is not None}
            if len(kinds) > 1 or kinds & {dict, list}:
                mapping[k] = [None if v is None else json.dumps(v, ensure_ascii=False) for v in vals]
        return Dataset.from_dict(mapping)


def hf_features():
    """The columns of the curated HF dataset: ``messages`` (``export.to_messages``) and ``provenance``."""
    from datasets import Features, Value

    text = Value("string")
    return Features({"messages": [{"role": text, "content": text}], "problem_id": text, "task": text, "domain": text,
                     "answer": text, "teacher": text, "difficulty": Value("float64"), "n_tokens": Value("int64")})


def _save_streamed(rows, features, cache: Path, out: Path):
    """Write the rows ``rows()`` yields as a dataset saved in ``out`` (the layout ``load_from_disk``
    reads: Arrow shards, ``state.json``, ``dataset_info.json``); returns it, loaded from ``out``.

    ``Dataset.from_generator`` writes the Arrow shards into ``cache`` (a sibling of ``out``, so on
    the same file system) and they are moved, not copied: ``save_to_disk`` would read every page of
    them back through a memory map, resident memory that grows with the rows (100k and 300k kept
    rows of ``benchmarks/bench_scale.py``: 1,123 and 2,967 MB that way, 223 and 247 MB this way)."""
    from dataclasses import asdict

    from datasets import Dataset, load_from_disk

    try:
        ds = Dataset.from_generator(rows, features=features, cache_dir=str(cache))
        shards = [Path(f["filename"]) for f in ds.cache_files]
    except ValueError:  # no rows: datasets 5.2 neither generates nor saves (zero shards) a loadable empty set
        if next(iter(rows()), None) is not None:
            raise
        import pyarrow as pa

        ds = Dataset.from_dict({k: [] for k in features}, features=features)
        cache.mkdir(parents=True, exist_ok=True)
        shards = [cache / "empty.arrow"]
        with pa.OSFile(str(shards[0]), "wb") as sink, pa.ipc.new_stream(sink, ds.data.schema) as writer:
            writer.write_table(ds.data.table)
    names = [f"data-{i:05d}-of-{len(shards):05d}.arrow" for i in range(len(shards))]
    out.mkdir(parents=True)
    for shard, name in zip(shards, names):
        os.replace(shard, out / name)
    state = {"_data_files": [{"filename": name} for name in names], "_fingerprint": ds._fingerprint,
             "_format_columns": None, "_format_kwargs": {}, "_format_type": None, "_output_all_columns": False,
             "_split": None if ds.split is None else str(ds.split)}
    info = asdict(ds.info)
    (out / "state.json").write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
    (out / "dataset_info.json").write_text(json.dumps({k: info[k] for k in sorted(info)}, indent=2), encoding="utf-8")
    return load_from_disk(str(out))


def save_hf_dataset(rows, out_dir: Path, card: dict, repo_id: str | None = None, *, features=None) -> Path:
    """Save ``rows`` as a Hugging Face dataset with a ``README.md`` card; returns ``out_dir``.
    ``rows``: a list (held in memory; column types inferred, mixed ones as JSON), or a function
    returning an iterable of rows of ``features``, streamed through an Arrow cache next to
    ``out_dir`` (removed after): memory stays one writer batch whatever the number of rows."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "state.json").exists():
        raise ValueError(f"{out_dir} is not empty and not a saved dataset; refusing to replace it")
    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    cache = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.cache")
    for d in (tmp, cache):
        shutil.rmtree(d, ignore_errors=True)
    try:
        if callable(rows):
            ds = _save_streamed(rows, features, cache, tmp)
        else:
            ds = _to_dataset(rows)
            ds.save_to_disk(str(tmp))
        readme = render_card(card, len(ds), list(ds.column_names))
        (tmp / "README.md").write_text(readme, encoding="utf-8")
        old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
        if callable(rows):
            from datasets import load_from_disk

            ds = load_from_disk(str(out_dir))  # memory-mapped where it now lies
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(cache, ignore_errors=True)
    token = os.environ.get("HF_TOKEN")
    if repo_id and token:  # not exercised by tests: needs the network and a token
        from huggingface_hub import HfApi

        ds.push_to_hub(repo_id, token=token)
        HfApi(token=token).upload_file(
            path_or_fileobj=readme.encode(), path_in_repo="README.md", repo_id=repo_id, repo_type="dataset"
        )
    return out_dir

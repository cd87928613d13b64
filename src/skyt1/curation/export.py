"""SFT exports: LLaMA-Factory ShareGPT, TRL messages, and a Hugging Face dataset with a card.

Contracts (docs/architecture.md, "records"):

- ``to_sharegpt(row, system)`` -> ``{"system", "conversations": [{"from": "user", "value":
  question}, {"from": "assistant", "value": response}]}``: the form of NovaSky-AI's
  Sky-T1_data_17k. LLaMA-Factory reads it through a ``dataset_info.json`` entry with
  ``"formatting": "sharegpt"``, ``"columns": {"messages": "conversations", "system": "system"}``
  and ``"tags"`` naming the ``from``/``value`` keys and the ``user``/``assistant`` roles (its
  defaults are ``human``/``gpt``; hiyouga/LLaMA-Factory ``data/README.md``).
- ``to_messages(row, system)`` -> ``{"messages": [{"role": "system", ...}, {"role": "user",
  ...}, {"role": "assistant", ...}]}``, TRL's conversational format (the system turn is left
  out when ``system`` is empty).
- ``write_exports(rows, out_dir, name, system)`` writes ``<name>_sharegpt.json`` (a JSON list),
  ``dataset_info.json`` (the entry ``name`` added to any entries already there) and
  ``<name>_messages.jsonl``, each atomically (temporary file + ``os.replace``), and returns
  ``{"sharegpt": path, "dataset_info": path, "messages": path}``.
- ``save_hf_dataset(rows, out_dir, card, repo_id=None)`` saves ``datasets.Dataset`` rows with
  ``save_to_disk`` plus a ``README.md`` dataset card rendered from ``card`` (sources, counts,
  filters, teacher, rewriter, cost, and any other key), replacing ``out_dir`` as a whole; it
  refuses a non-empty ``out_dir`` that is not a saved dataset (such as the exports folder,
  whose ``dataset_info.json`` it would clobber). It pushes to the Hub only when ``repo_id`` is
  given and ``HF_TOKEN`` is set.

The user turn is ``row[user_key]`` (default ``question``) and the assistant turn
``row[assistant_key]`` (default ``response``); pass the rendered prompt's key to train on it.

Preference pairs (``select.preference_pairs`` rows: ``prompt``, ``chosen``, ``rejected``,
``problem_id``, ``kind``):

- ``to_preference_messages(pair, system)`` -> TRL's conversational preference form
  ``{"prompt": [system?, user], "chosen": [assistant], "rejected": [assistant], "problem_id",
  "kind"}`` (TRL docs, "Dataset formats": preference, conversational);
- ``to_preference_sharegpt(pair, system)`` -> LLaMA-Factory's ShareGPT preference form
  ``{"system", "conversations": [user], "chosen": {assistant}, "rejected": {assistant}}``, read
  through a ``dataset_info.json`` entry with ``"ranking": true`` (``preference_info_entry``);
- ``write_preference_exports(pairs, out_dir, name, system)`` writes ``<name>_preference.jsonl``,
  ``<name>_preference_sharegpt.json`` and the entry ``<name>_preference`` in
  ``dataset_info.json``; returns their paths.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from skyt1.records import write_json_atomic

__all__ = [
    "dataset_info_entry",
    "preference_info_entry",
    "render_card",
    "save_hf_dataset",
    "to_messages",
    "to_preference_messages",
    "to_preference_sharegpt",
    "to_sharegpt",
    "write_exports",
    "write_preference_exports",
]


def to_sharegpt(row: dict, system: str, user_key: str = "question", assistant_key: str = "response") -> dict:
    """One LLaMA-Factory ShareGPT record."""
    return {
        "system": system,
        "conversations": [
            {"from": "user", "value": str(row[user_key])},
            {"from": "assistant", "value": str(row[assistant_key])},
        ],
    }


def to_messages(row: dict, system: str, user_key: str = "question", assistant_key: str = "response") -> dict:
    """One TRL conversational record."""
    messages = [{"role": "system", "content": system}] if system else []
    messages += [
        {"role": "user", "content": str(row[user_key])},
        {"role": "assistant", "content": str(row[assistant_key])},
    ]
    return {"messages": messages}


def dataset_info_entry(file_name: str) -> dict:
    """The LLaMA-Factory ``dataset_info.json`` entry for a ``to_sharegpt`` file."""
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system"},
        "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "user", "assistant_tag": "assistant"},
    }


def _write_jsonl_atomic(path: Path, objs: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for obj in objs:
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_exports(
    rows: list[dict],
    out_dir: Path,
    name: str,
    system: str,
    user_key: str = "question",
    assistant_key: str = "response",
) -> dict[str, Path]:
    """Write the ShareGPT file, its ``dataset_info.json`` entry and the messages JSONL."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "sharegpt": out_dir / f"{name}_sharegpt.json",
        "dataset_info": out_dir / "dataset_info.json",
        "messages": out_dir / f"{name}_messages.jsonl",
    }
    write_json_atomic(paths["sharegpt"], [to_sharegpt(r, system, user_key, assistant_key) for r in rows])
    info = {}
    if paths["dataset_info"].exists():
        info = json.loads(paths["dataset_info"].read_text(encoding="utf-8") or "{}")
    info[name] = dataset_info_entry(paths["sharegpt"].name)
    write_json_atomic(paths["dataset_info"], info)
    _write_jsonl_atomic(paths["messages"], [to_messages(r, system, user_key, assistant_key) for r in rows])
    return paths


def to_preference_messages(pair: dict, system: str) -> dict:
    """One TRL conversational preference record."""
    prompt = [{"role": "system", "content": system}] if system else []
    prompt.append({"role": "user", "content": str(pair["prompt"])})
    return {
        "prompt": prompt,
        "chosen": [{"role": "assistant", "content": str(pair["chosen"])}],
        "rejected": [{"role": "assistant", "content": str(pair["rejected"])}],
        "problem_id": str(pair.get("problem_id", "")),
        "kind": str(pair.get("kind", "")),
    }


def to_preference_sharegpt(pair: dict, system: str) -> dict:
    """One LLaMA-Factory ShareGPT preference record."""
    return {
        "system": system,
        "conversations": [{"from": "user", "value": str(pair["prompt"])}],
        "chosen": {"from": "assistant", "value": str(pair["chosen"])},
        "rejected": {"from": "assistant", "value": str(pair["rejected"])},
    }


def preference_info_entry(file_name: str) -> dict:
    """The LLaMA-Factory ``dataset_info.json`` entry for a ``to_preference_sharegpt`` file."""
    entry = dataset_info_entry(file_name)
    entry["ranking"] = True
    entry["columns"] = {**entry["columns"], "chosen": "chosen", "rejected": "rejected"}
    return entry


def write_preference_exports(pairs: list[dict], out_dir: Path, name: str, system: str) -> dict[str, Path]:
    """Write the preference pairs for TRL and LLaMA-Factory; see the module docstring."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "preference": out_dir / f"{name}_preference.jsonl",
        "preference_sharegpt": out_dir / f"{name}_preference_sharegpt.json",
        "dataset_info": out_dir / "dataset_info.json",
    }
    _write_jsonl_atomic(paths["preference"], [to_preference_messages(p, system) for p in pairs])
    write_json_atomic(paths["preference_sharegpt"], [to_preference_sharegpt(p, system) for p in pairs])
    info = {}
    if paths["dataset_info"].exists():
        info = json.loads(paths["dataset_info"].read_text(encoding="utf-8") or "{}")
    info[f"{name}_preference"] = preference_info_entry(paths["preference_sharegpt"].name)
    write_json_atomic(paths["dataset_info"], info)
    return paths


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


def save_hf_dataset(rows: list[dict], out_dir: Path, card: dict, repo_id: str | None = None) -> Path:
    """Save ``rows`` as a Hugging Face dataset with a ``README.md`` card; returns ``out_dir``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "state.json").exists():
        raise ValueError(f"{out_dir} is not empty and not a saved dataset; refusing to replace it")
    ds = _to_dataset(rows)
    readme = render_card(card, len(ds), list(ds.column_names))
    tmp = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    ds.save_to_disk(str(tmp))
    (tmp / "README.md").write_text(readme, encoding="utf-8")
    old = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.old")
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)
    token = os.environ.get("HF_TOKEN")
    if repo_id and token:  # not exercised by tests: needs the network and a token
        from huggingface_hub import HfApi

        ds.push_to_hub(repo_id, token=token)
        HfApi(token=token).upload_file(
            path_or_fileobj=readme.encode(), path_in_repo="README.md", repo_id=repo_id, repo_type="dataset"
        )
    return out_dir

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
  ``<name>_messages.jsonl``, each atomically (temporary file + ``os.replace``), streamed (one
  record a line, never indented, never all in memory), and returns
  ``{"sharegpt": path, "dataset_info": path, "messages": path}``.
- ``save_hf_dataset(rows, out_dir, card, repo_id=None)`` (``curation.card``, re-exported) saves
  rows as a dataset ``datasets.load_from_disk`` reads (a list, or a generator function streamed
  into Arrow shards that are moved into place) plus a ``README.md`` dataset card rendered
  from ``card`` (sources, counts, filters, teacher, rewriter, cost, and any other key),
  replacing ``out_dir`` as a whole; it
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
- ``curation.preference.write_preference_exports(pairs, out_dir, name, system)`` writes ``<name>_preference.jsonl``,
  ``<name>_preference_sharegpt.json`` and the entry ``<name>_preference`` in
  ``dataset_info.json``; returns their paths.
"""

from __future__ import annotations

import json
import os
from json.encoder import encode_basestring, encode_basestring_ascii
from pathlib import Path

from skyt1.records import write_json_atomic

__all__ = [
    "dataset_info_entry",
    "preference_info_entry",
    "render_card",
    "SftWriter",
    "save_hf_dataset",
    "to_messages",
    "to_preference_messages",
    "to_preference_sharegpt",
    "to_sharegpt",
    "write_exports",
]


def json_str(text: str) -> str:
    """``json.dumps(text, ensure_ascii=False)`` for a ``str``; an ASCII text goes through the
    ASCII escaper, which writes the same JSON for it in about 60% of the time."""
    return encode_basestring_ascii(text) if text.isascii() else encode_basestring(text)


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


class _Atomic:
    """A text file written under a temporary name and renamed into place on success."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        self.fh = self.tmp.open("w", encoding="utf-8", buffering=1 << 20)

    def close(self, ok: bool = True) -> None:
        self.fh.flush()
        if ok:
            os.fsync(self.fh.fileno())
        self.fh.close()
        if ok:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


class JsonListWriter(_Atomic):
    """A JSON list written one element at a time (one element a line, not indented)."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.n = 0
        self.fh.write("[")

    def write(self, obj) -> None:
        self.write_raw(json.dumps(obj, ensure_ascii=False))

    def write_raw(self, text: str) -> None:
        """Write one element already encoded as JSON."""
        self.fh.write((",\n" if self.n else "\n") + text)
        self.n += 1

    def close(self, ok: bool = True) -> None:
        self.fh.write("\n]\n")
        super().close(ok)


class JsonlWriter(_Atomic):
    def write(self, obj) -> None:
        self.write_raw(json.dumps(obj, ensure_ascii=False))

    def write_raw(self, text: str) -> None:
        self.fh.write(text + "\n")


def add_dataset_info(path: Path, name: str, entry: dict) -> None:
    """Add (or replace) ``name`` in the ``dataset_info.json`` at ``path``, keeping other entries."""
    info = json.loads(path.read_text(encoding="utf-8") or "{}") if path.exists() else {}
    info[name] = entry
    write_json_atomic(path, info)


class SftWriter:
    """``write_exports`` one row at a time: ``add(row)``, then ``close()`` -> the paths. The user
    turn is ``prompt`` when every row has one, else ``question``; the choice is taken from the
    first row, and if a later row lacks a ``prompt`` the files are rewritten from ``redo()``
    (an iterable of the same rows) with ``question``. Memory: none per row."""

    def __init__(self, out_dir: Path, name: str, system: str, assistant_key: str = "formatted"):
        self.out_dir, self.name, self.system, self.assistant_key = Path(out_dir), name, system, assistant_key
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.user_key: str | None = None
        self.mixed = False
        self.paths = {"sharegpt": self.out_dir / f"{name}_sharegpt.json",
                      "dataset_info": self.out_dir / "dataset_info.json",
                      "messages": self.out_dir / f"{name}_messages.jsonl"}
        self._sharegpt, self._messages = JsonListWriter(self.paths["sharegpt"]), JsonlWriter(self.paths["messages"])
        self._system_json = json_str(system)

    def add(self, row: dict) -> None:
        if self.user_key is None:
            self.user_key = "prompt" if "prompt" in row else "question"
        elif self.user_key == "prompt" and "prompt" not in row:
            self.mixed = True
        if not self.mixed:  # each text encoded once for both files: the same JSON as json.dumps of the records
            user, reply = json_str(str(row[self.user_key])), json_str(str(row[self.assistant_key]))
            system = self._system_json
            self._sharegpt.write_raw(f'{{"system": {system}, "conversations": [{{"from": "user", "value": {user}}}, '
                                     f'{{"from": "assistant", "value": {reply}}}]}}')
            head = f'{{"role": "system", "content": {system}}}, ' if self.system else ""
            self._messages.write_raw(f'{{"messages": [{head}{{"role": "user", "content": {user}}}, '
                                     f'{{"role": "assistant", "content": {reply}}}]}}')

    def close(self, redo=None) -> dict[str, Path]:
        self._sharegpt.close()
        self._messages.close()
        if self.mixed:
            self.user_key = "question"
            rows = redo() if callable(redo) else redo
            write_exports(rows, self.out_dir, self.name, self.system, "question", self.assistant_key)
        add_dataset_info(self.paths["dataset_info"], self.name, dataset_info_entry(self.paths["sharegpt"].name))
        return self.paths


def write_exports(
    rows,
    out_dir: Path,
    name: str,
    system: str,
    user_key: str = "question",
    assistant_key: str = "response",
) -> dict[str, Path]:
    """Write the ShareGPT file, its ``dataset_info.json`` entry and the messages JSONL (``rows``:
    any iterable, read twice when it is a list, else once into both files)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "sharegpt": out_dir / f"{name}_sharegpt.json",
        "dataset_info": out_dir / "dataset_info.json",
        "messages": out_dir / f"{name}_messages.jsonl",
    }
    sharegpt, messages = JsonListWriter(paths["sharegpt"]), JsonlWriter(paths["messages"])
    for r in rows:
        sharegpt.write(to_sharegpt(r, system, user_key, assistant_key))
        messages.write(to_messages(r, system, user_key, assistant_key))
    sharegpt.close()
    messages.close()
    add_dataset_info(paths["dataset_info"], name, dataset_info_entry(paths["sharegpt"].name))
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


from skyt1.curation.card import render_card, save_hf_dataset  # noqa: E402  (the card lives in card.py)

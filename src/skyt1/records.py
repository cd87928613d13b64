"""Typed records and the run store.

Records are JSONL, one object a line, UTF-8 (docs/architecture.md, contract "records"):

- problem: ``id``, ``task``, ``domain``, ``question`` and, by kind, ``answer``, ``choices``,
  ``tests``, ``meta``;
- sample: a problem plus ``problem_id``, ``index``, ``model``, ``response``, ``finish_reason``,
  ``usage`` (``prompt_tokens``, ``completion_tokens``), ``seconds``;
- verdict: a sample plus ``correct``, ``extracted``, ``reason``.

A stage directory holds ``records.jsonl`` (appended and flushed record by record),
``summary.json`` and ``manifest.json``. The manifest is written last and atomically, so a
directory without it is unfinished; a stage killed at any moment (even by SIGKILL, which can
leave half a line) resumes by dropping the torn tail and skipping the keys already written.
The JSONL helpers (``read_jsonl``, ``batched``, ``write_json_atomic``, ``RecordError``) live in
``skyt1.jsonl`` and are re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from skyt1.jsonl import RecordError, _repair_tail, batched, read_jsonl, write_json_atomic

__all__ = [
    "RecordError",
    "StageAlreadyDone",
    "Stage",
    "WrittenKeys",
    "batched",
    "run_stage",
    "read_jsonl",
    "write_json_atomic",
    "package_versions",
    "file_sha256",
    "config_hash",
    "PROBLEM_FIELDS",
    "SAMPLE_FIELDS",
    "VERDICT_FIELDS",
]

PROBLEM_FIELDS = ("id", "task", "domain", "question")
SAMPLE_FIELDS = ("problem_id", "index", "model", "response", "finish_reason", "usage", "seconds")
VERDICT_FIELDS = ("correct", "extracted", "reason")


class StageAlreadyDone(Exception):
    """The stage finished before with the same config; nothing to do."""


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: backend arguments that say where and how fast a model is reached, never what it writes
TRANSPORT_ARGS = frozenset({"base_url", "api_key_env", "concurrency", "max_retries", "timeout", "rpm", "tpm",
                            "backoff", "max_backoff"})


def config_hash(config: Any) -> str:
    """16 hex digits of the config, without the ``TRANSPORT_ARGS`` of any backend ``args``: a server
    moved to another port or host, or a new rate limit, does not redo finished stages (the manifest
    still records them)."""
    blob = json.dumps(_without_transport(config), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _without_transport(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _without_transport(v, k) for k, v in value.items() if key != "args" or k not in TRANSPORT_ARGS}
    if isinstance(value, (list, tuple)):
        return [_without_transport(v) for v in value]
    return value


_RUN_PACKAGES = ("skyt1", "torch", "transformers", "trl", "peft", "accelerate", "math-verify", "vllm", "ray")


def package_versions(packages: Iterable[str] = _RUN_PACKAGES, python: bool = True) -> dict[str, str]:
    """Installed versions of ``packages`` (those not installed are left out), and Python's."""
    out = {"python": platform.python_version()} if python else {}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


class WrittenKeys:
    """The keys of the records a resumed stage already wrote, for "skip what is done": 8 bytes a
    key (a 64-bit BLAKE2b digest of its JSON, kept sorted), where a set of tuples took about 120.
    A key is JSON data (a tuple equals the list it was written as). Two different keys share a
    digest with probability about n**2 / 2**65: 3e-8 at a million records."""

    def __init__(self, keys: Iterable = ()) -> None:
        self._digests = array("Q", map(self.digest, keys))
        self._sorted = False

    @staticmethod
    def digest(key) -> int:
        data = json.dumps(key, separators=(",", ":"), ensure_ascii=False).encode()
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")

    def add(self, key) -> None:
        self._digests.append(self.digest(key))
        self._sorted = False

    def __contains__(self, key) -> bool:
        if not self._digests:
            return False
        if not self._sorted:  # keys are added while the stage reads its records, then only looked up
            self._digests, self._sorted = array("Q", sorted(self._digests)), True
        d = self.digest(key)
        i = bisect_left(self._digests, d)
        return i < len(self._digests) and self._digests[i] == d

    def __len__(self) -> int:
        return len(self._digests)


@dataclass
class Stage:
    """One stage's directory in a run: records, summary and manifest.

    ``config`` is everything that determines the output (it is hashed); ``inputs`` are the
    files read (hashed into the manifest). Use as::

        stage = Stage(run_dir / "generate", "generate", config, inputs=[problems])
        stage.check()                       # raises StageAlreadyDone if finished, same config
        done = stage.done_keys(lambda r: (r["problem_id"], r["index"]))
        with stage.writer() as write:
            for rec in work_not_in(done): write(rec)
        stage.finish(summary, ledger)
    """

    dir: Path
    name: str
    config: dict
    inputs: list[Path] = field(default_factory=list)
    seed: int | None = None

    def __post_init__(self) -> None:
        self.dir = Path(self.dir)
        self.records_path = self.dir / "records.jsonl"
        self.summary_path = self.dir / "summary.json"
        self.manifest_path = self.dir / "manifest.json"
        self.spent_path = self.dir / "spent.json"  # what unfinished attempts spent (cost.Ledger)
        self.started = time.time()
        self._input_hashes: dict[str, str] | None = None  # str(path) -> sha256, hashed once (inputs can be GBs)

    def _inputs_sha256(self) -> dict[str, str]:
        if self._input_hashes is None:
            self._input_hashes = {str(p): file_sha256(p) for p in self.inputs if Path(p).is_file()}
        return self._input_hashes

    @property
    def hash(self) -> str:
        """Hash of the config and the input files' contents: new inputs mean a new result."""
        named = {Path(p).name: h for p, h in self._inputs_sha256().items()}
        return config_hash({"config": self.config, "inputs": named})

    @property
    def finished(self) -> bool:
        return self.manifest_path.exists()

    def manifest(self) -> dict | None:
        if not self.finished:
            return None
        return json.loads(self.manifest_path.read_text(encoding="utf-8"))

    def check(self, force: bool = False) -> None:
        """Prepare the directory; raise ``StageAlreadyDone`` when it is finished with this config.

        A finished stage with a *different* config is an error unless ``force``, which
        archives nothing and starts over.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        old = self.manifest()
        if old is not None:
            if old.get("config_hash") == self.hash and not force:
                raise StageAlreadyDone(
                    f"{self.name}: already finished in {self.dir} (config {self.hash}); nothing to do")
            if not force:
                raise RecordError(
                    f"{self.dir}: finished with another config ({old.get('config_hash')} != {self.hash}); "
                    "use a new run directory or --force to redo it"
                )
            self.reset()
            return
        partial = self.dir / "config.json"
        if partial.exists():
            prev = json.loads(partial.read_text(encoding="utf-8")).get("config_hash")
            if prev != self.hash:
                if not force:
                    raise RecordError(
                        f"{self.dir}: holds an unfinished run with another config ({prev} != {self.hash}); "
                        "use a new run directory or --force to start over"
                    )
                self.reset()
        write_json_atomic(partial, {"stage": self.name, "config_hash": self.hash, "config": self.config})

    def reset(self) -> None:
        for p in (self.manifest_path, self.summary_path, self.records_path, self.spent_path, self.dir / "config.json"):
            p.unlink(missing_ok=True)

    def records(self) -> list[dict]:
        """Records written so far (after repairing a torn tail), all in memory: prefer ``iter_records``."""
        return list(self.iter_records())

    def iter_records(self) -> Iterator[dict]:
        """Records written so far, one at a time (after repairing a torn tail)."""
        _repair_tail(self.records_path)
        if self.records_path.exists():
            yield from read_jsonl(self.records_path)

    def done_keys(self, key: Callable[[dict], Any]) -> WrittenKeys:
        """``key`` of every record written so far (the records are read one at a time)."""
        return WrittenKeys(key(r) for r in self.iter_records())

    def writer(self) -> _Writer:
        _repair_tail(self.records_path)
        return _Writer(self.records_path)

    def finish(self, summary: dict, ledger: dict | None = None) -> dict:
        """Write ``summary.json`` then the manifest (atomically, last): the stage is done."""
        write_json_atomic(self.summary_path, summary)
        manifest = {
            "stage": self.name,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "config": self.config,
            "config_hash": self.hash,
            "seed": self.seed,
            "versions": package_versions(),
            "command": sys.argv,
            "inputs": dict(self._inputs_sha256()),  # as hashed for config_hash, once
            "outputs": {p.name: file_sha256(p) for p in (self.records_path,) if p.exists()},
            "timings": {"seconds": round(time.time() - self.started, 3)},
            "cost": ledger or {},
        }
        write_json_atomic(self.manifest_path, manifest)
        self.spent_path.unlink(missing_ok=True)  # now in the manifest's cost
        return manifest


class _Writer:
    """Append records one line at a time. Each is flushed to the kernel at once, so killing the
    process (even SIGKILL) loses at most the line being written; fsync on close guards the
    finished file against a machine crash."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._fh = None

    def __enter__(self) -> _Writer:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")
        return self

    def __call__(self, record: dict) -> None:
        assert self._fh is not None
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        self.count += 1

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


def run_stage(stage: Stage, force: bool, fn: Callable[[], Any], log: Callable[[str], Any] = print) -> Any:
    """``fn()`` unless ``stage`` already finished with this config (then log ``[skip] ...`` and
    return None): the one place that decides whether a stage runs."""
    try:
        stage.check(force=force)
    except StageAlreadyDone as e:
        log(f"[skip] {e}")
        return None
    log(f"[run] {stage.name} -> {stage.dir}")
    return fn()

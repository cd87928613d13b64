"""Problem sources beyond the task modules: any JSONL, JSON, Parquet file or hub dataset, with a
field mapping written in the recipe.

A *source spec* is a mapping (YAML in a recipe)::

    {task: gsm8k, split: train, limit: 500}                         # a skyt1 task
    {path: data.parquet, name: mine, fields: {question: problem, answer: final}}
    {path: more.jsonl, fields: {question: q, tests: io}, verifier: code}
    {hub: AI-MO/NuminaMath-CoT, split: train, where: {source: [amc_aime]},
     fields: {question: problem, answer: "boxed:solution", meta.source: source}}

Keys (any other key is an error, as in recipes):

- exactly one of ``task`` (a registered task: its own loader, ``split`` and ``limit`` apply),
  ``path`` (``.jsonl``, ``.jsonl.gz``, ``.json`` holding a list, ``.parquet``; relative to
  ``base_dir``) or ``hub`` (a hub dataset id, read with ``datasets.load_dataset(hub, config,
  split=split)`` when the hub is in use; hub only);
- ``name``: the problems' ``task`` and id prefix (default: the file's stem, the hub id's last
  part); ``split`` (default ``train``), ``config`` (hub);
- ``fields``: problem field -> source column. Problem fields are ``id``, ``question``,
  ``answer``, ``tests``, ``choices``, ``domain`` and ``meta.<key>``. A column may be a dotted
  path into nested objects (``info.answer``); ``boxed:<column>`` takes the content of the last
  ``\\boxed{}`` of that column (a NuminaMath-style solution). A field left unmapped is read from
  a column of the same name when there is one.
- ``verifier``: ``math`` (default), ``math_int``, ``number``, ``choice`` or ``code`` (default
  ``code`` when ``tests`` is mapped); ``domain`` (default ``code`` for code, else ``math``);
- ``where``: column -> value or list of values; only matching rows are read; ``rows``: ``[start,
  end]``, only those of the matching rows, before mapping (SkyThought's ``--start``/``--end``);
- ``limit``: the first N problems; ``prompt``: the template ``source_task`` renders;
- ``labels`` (values joined from another source), ``filters`` (``source_filters``), then
  ``quota`` (a seeded sample of N, ``seed``): see ``source_problems``.

Mapping: ``tests`` given as a JSON string is parsed; an APPS/TACO ``input_output`` shape
(``inputs``/``outputs``/``fn_name``) becomes the code verifier's shape (``tasks._code.io_tests``).
Answers become strings. Ids are ``<name>/<id column>`` when ``id`` is mapped, else
``<name>/<first 12 hex of the SHA-256 of the question>`` (stable when rows are reordered;
``-2``, ``-3``, ... for repeated questions).

Rows with no question, or with no gold (no answer; no usable tests for code) are never kept
silently: ``load_source(spec, skipped=list)`` appends each to ``skipped`` with ``skip_reason``
(``missing_question``, ``missing_answer``, ``missing_tests``) and logs how many were skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Iterable
from pathlib import Path

from skyt1.curation.source_filters import apply_filters, check_selection, join_labels, label_specs
from skyt1.curation.source_io import read_file, read_hub, resolve_path
from skyt1.verifiers.registry import KINDS

__all__ = ["SPEC_KEYS", "PROBLEM_FIELDS", "load_source", "load_sources", "map_rows", "source_name", "source_problems",
           "source_task"]

log = logging.getLogger(__name__)

SPEC_KEYS = {"task", "path", "hub", "name", "split", "config", "fields", "verifier", "domain", "where", "rows",
             "limit", "prompt", "labels", "filters", "quota", "seed"}
PROBLEM_FIELDS = ("id", "question", "answer", "tests", "choices", "domain")
VERIFIERS = KINDS  # the verifier registry's kinds


def _check_spec(spec: dict, *, kind: bool = True) -> None:
    if not isinstance(spec, dict):
        raise ValueError(f"a source is a mapping, not {type(spec).__name__}: {spec!r}")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise ValueError(f"source {spec!r}: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(sorted(SPEC_KEYS))}")
    kinds = [k for k in ("task", "path", "hub") if spec.get(k)]
    if kind and len(kinds) != 1:
        raise ValueError(f"source {spec!r}: give exactly one of task, path, hub")
    if (spec.get("verifier") or "math") not in VERIFIERS:
        raise ValueError(f"source {spec!r}: verifier must be one of {', '.join(VERIFIERS)}")
    for target in spec.get("fields") or {}:
        if target not in PROBLEM_FIELDS and not target.startswith("meta."):
            raise ValueError(f"source {spec!r}: cannot map field {target!r}; "
                             f"fields: {', '.join(PROBLEM_FIELDS)}, meta.<key>")
    check_selection(spec.get("name") or spec.get("task") or spec.get("path") or spec.get("hub") or "source", spec)
    for labelled in label_specs(spec):
        _check_spec(labelled)


def source_name(spec: dict) -> str:
    """A spec's ``name``, else its file's stem or its hub id's last part."""
    if spec.get("name"):
        return str(spec["name"])
    if spec.get("path"):
        return Path(str(spec["path"])).name.split(".")[0]
    return str(spec["hub"]).rstrip("/").split("/")[-1]


def _get(row: dict, column: str):
    if column.startswith("boxed:"):
        from skyt1.verifiers.math import extract_boxed

        text = _get(row, column[len("boxed:") :])
        return extract_boxed(str(text)) if text is not None else None
    node = row
    if column in row:
        return row[column]
    for part in column.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _matches(row: dict, where: dict) -> bool:
    for col, want in where.items():
        value = _get(row, col)
        if value not in (want if isinstance(want, list) else [want]):
            return False
    return True


def _tests(value):
    from skyt1.tasks._code import io_tests

    if isinstance(value, str):
        if not value.strip():
            return None
        value = json.loads(value)
    if isinstance(value, dict) and "inputs" in value:
        return io_tests(value)
    return value or None


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _selected(rows: Iterable[dict], spec: dict):
    """``(position, row)`` of the rows matching ``where``, within the ``rows`` window of those."""
    where, (start, end) = spec.get("where") or {}, spec.get("rows") or [0, None]
    matched = 0
    for pos, row in enumerate(rows):
        if where and not _matches(row, where):
            continue
        matched += 1
        if end is not None and matched > end:
            return
        if matched > start:
            yield pos, row


def map_rows(rows: Iterable[dict], spec: dict, skipped: list | None = None) -> list[dict]:
    """Source rows -> problem records, by the spec's field mapping (see the module docstring)."""
    _check_spec(spec, kind=False)
    name = source_name(spec) if (spec.get("name") or spec.get("path") or spec.get("hub")) else "source"
    fields = dict(spec.get("fields") or {})
    verifier = spec.get("verifier") or ("code" if "tests" in fields else "math")
    domain_default = spec.get("domain") or ("code" if verifier == "code" else "math")
    limit = spec.get("limit")
    out: list[dict] = []
    seen_ids: dict[str, int] = {}
    n_skipped = 0
    for pos, row in _selected(rows, spec):
        if limit and len(out) >= limit:
            break
        got = {f: _get(row, fields.get(f, f)) for f in PROBLEM_FIELDS}
        meta = {k[len("meta.") :]: _get(row, col) for k, col in fields.items() if k.startswith("meta.")}
        question = got["question"]
        problem: dict = {"task": name, "domain": str(got["domain"] or domain_default),
                         "question": str(question).strip() if not _empty(question) else ""}
        reason = None
        if not problem["question"]:
            reason = "missing_question"
        elif verifier == "code":
            try:
                problem["tests"] = _tests(got["tests"])
            except (ValueError, TypeError) as e:
                problem["tests"], meta["tests_error"] = None, str(e)
            if not problem["tests"]:
                reason = "missing_tests"
        else:
            if _empty(got["answer"]):
                reason = "missing_answer"
            else:
                problem["answer"] = str(got["answer"]).strip()
            if verifier == "choice" and got["choices"]:
                problem["choices"] = [str(c) for c in got["choices"]]
        if not _empty(got["id"]):
            pid = f"{name}/{got['id']}"
        else:
            pid = f"{name}/{hashlib.sha256(problem['question'].encode('utf-8')).hexdigest()[:12]}"
        seen_ids[pid] = seen_ids.get(pid, 0) + 1
        problem["id"] = pid if seen_ids[pid] == 1 else f"{pid}-{seen_ids[pid]}"
        problem["meta"] = {**meta, "source_row": pos}
        problem = {"id": problem.pop("id"), **problem}
        if reason:
            n_skipped += 1
            if skipped is not None:
                skipped.append({**problem, "skip_reason": reason})
            continue
        out.append(problem)
    if n_skipped:
        log.warning("source %s: %d rows skipped for missing question or gold (listed by load_source)", name, n_skipped)
    return out


def load_source(spec: dict, *, skipped: list | None = None, base_dir: str | Path | None = None) -> list[dict]:
    """The problems of one source spec; rows without question or gold go to ``skipped``."""
    _check_spec(spec)
    if spec.get("task"):
        from skyt1.tasks import get_task

        return get_task(spec["task"]).problems(spec.get("split"), spec.get("limit"))
    if spec.get("path"):
        rows: Iterable[dict] = read_file(resolve_path(spec, base_dir))
    else:
        rows = read_hub(spec)
    return map_rows(rows, spec, skipped)


def load_sources(specs: list[dict], *, base_dir: str | Path | None = None) -> tuple[list[dict], list[dict]]:
    """``(problems, skipped)`` over several specs, in order; a problem id seen twice is an error."""
    problems, skipped = [], []
    for spec in specs:
        problems += load_source(spec, skipped=skipped, base_dir=base_dir)
    ids = [p["id"] for p in problems]
    if len(ids) != len(set(ids)):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"problem id {dup!r} comes from two sources; give them distinct names")
    return problems, skipped


def source_task(spec: dict, *, base_dir: str | Path | None = None):
    """A ``Task`` over a file or hub source, so ``generate``/``score`` can use it like any task."""
    from skyt1.tasks._code import CODE_PROMPT, STDIN_INSTRUCTION
    from skyt1.tasks.base import BOXED_INSTRUCTION, Task

    _check_spec(spec)
    if spec.get("task"):
        from skyt1.tasks import get_task

        return get_task(spec["task"])
    verifier = spec.get("verifier") or ("code" if "tests" in (spec.get("fields") or {}) else "math")
    split = spec.get("split") or "train"

    def load(_split: str) -> list[dict]:
        problems = load_source({**spec, "split": split}, base_dir=base_dir)
        if verifier == "code":
            problems = [{**p, "instruction": p.get("instruction") or STDIN_INSTRUCTION} for p in problems]
        return problems

    prompt = spec.get("prompt") or (CODE_PROMPT if verifier == "code" else "{question}\n\n" + BOXED_INSTRUCTION)
    return Task(
        name=source_name(spec),
        domain=spec.get("domain") or ("code" if verifier == "code" else "math"),
        verifier=verifier,
        load=load,
        splits=(split,),
        prompt=prompt,
        description=f"source {spec.get('path') or spec.get('hub')}",
        source=str(spec.get("path") or f"hub {spec.get('hub')}"),
    )


def source_problems(spec: dict, *, base_dir: str | Path | None = None, counts: dict | None = None):
    """One mixture source: ``(task, problems)``, its Task (prompt, verifier, domain) and its problems
    after ``rows``/``limit``, ``filters`` and ``quota`` (a seeded sample of N, ``seed`` default 0,
    kept in source order); each problem gains ``source``, the spec's name. ``counts``, when
    given, is filled with ``available`` (before filters), ``labelled`` (with ``labels``),
    ``after_filters`` (``{filter: n}``), ``quota`` and ``selected``."""
    _check_spec(spec)
    plain = {k: v for k, v in spec.items() if k not in ("quota", "seed", "filters", "labels")}
    name = plain.get("name") or plain.get("task") or source_name(plain)
    task = source_task(plain, base_dir=base_dir)
    split = plain.get("split") or "train"
    if split not in task.splits:
        raise ValueError(f"source {name!r}: split {split!r} is not one of {list(task.splits)}")
    problems = task.problems(split, plain.get("limit"))
    if plain.get("task") and plain.get("rows"):
        problems = problems[plain["rows"][0]:plain["rows"][1]]
    available, labels = len(problems), spec.get("labels")
    if labels:
        known = [p for f in label_specs(spec) for p in source_problems(f, base_dir=base_dir)[1]]
        problems, matched = join_labels(name, problems, known, labels["copy"])
    problems, after = apply_filters(name, problems, spec.get("filters"))
    quota = spec.get("quota")
    if quota is not None and quota < len(problems):
        keep = sorted(random.Random(spec.get("seed", 0)).sample(range(len(problems)), quota))
        problems = [problems[i] for i in keep]
    log.info("source %s: %d problems available, %d after filters, %d selected (quota %s)", name, available,
             list(after.values())[-1] if after else available, len(problems), quota)
    if counts is not None:
        counts.update(available=available, after_filters=after, quota=quota, selected=len(problems))
        if labels:
            counts["labelled"] = matched
    return task, [{**p, "source": name} for p in problems]

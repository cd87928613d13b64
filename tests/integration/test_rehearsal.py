"""`skyt1 run sky-t1-rehearsal` end to end, as CI's check that sky-t1-32b-preview's shape holds
together: a real `transformers serve` (the OpenAI-compatible server that ships with
transformers) serves the embedded model as the teacher, the LLM rewriter and the evaluated
models; the math + code + puzzle mixture keeps its quotas and verifiers; training runs in two
processes; base and trained are both evaluated through the server, which loads the trained
checkpoint by path. To keep CI fast: one sample per problem, and a smaller evaluation (fewer
problems, shorter answers)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SOURCES = {"math": (16, "number"), "code": (4, "code"), "puzzles": (8, "choice")}  # the recipe's quota, verifier
N_SAMPLES = 28  # the quotas, one sample each
EVAL_LIMIT = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedded_path):
    """`transformers serve` on a free port, ready (``/health``) before the test, stopped after.
    Its log (``--log-level info``: every request, every model it loads) is kept for assertions."""
    exe = Path(sys.executable).with_name("transformers")
    port, log = _free_port(), tmp_path_factory.mktemp("serve") / "serve.log"
    cmd = [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--device", "cpu", "--dtype", "float32",
           "--log-level", "info"]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"transformers serve exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"transformers serve not ready in 180 s:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield {"base_url": url + "/v1", "log": log}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _load(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def rehearsal(server, tmp_path_factory):
    """One `skyt1 run sky-t1-rehearsal` against the fixture's server; its run directory."""
    run = tmp_path_factory.mktemp("rehearsal") / "run"
    url = server["base_url"]
    sets = [f"run_dir={run}", f"generate.teacher.args.base_url={url}", f"rewrite.rewriter.args.base_url={url}",
            f"evaluate.backend_args.base_url={url}", f"evaluate.limit={EVAL_LIMIT}", "evaluate.sampling.max_tokens=32",
            "generate.sampling.n=1"]  # transformers serve decodes this model greedily: a 2nd sample repeats the 1st
    cmd = [sys.executable, "-m", "skyt1.cli", "run", "sky-t1-rehearsal", *sum((["--set", s] for s in sets), [])]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-5000:]
    return run, res


def test_mixture_generated_and_scored_per_source_through_the_server(rehearsal, server):
    run, _ = rehearsal
    gen = _load(run / "generate" / "summary.json")
    assert {s: (b["problems"], b["samples"]) for s, b in gen["by_source"].items()} == {
        s: (q, q) for s, (q, _) in SOURCES.items()}
    assert gen["model"].endswith("smollm2-135m-instruct")
    verdicts = _rows(run / "score" / "records.jsonl")
    assert len(verdicts) == N_SAMPLES
    assert {r["source"]: r["verifier"] for r in verdicts} == {s: v for s, (_, v) in SOURCES.items()}
    assert all(isinstance(r["correct"], bool) for r in verdicts)
    assert (run / "score" / "manifest.json").exists()


def test_llm_rewriter_called_through_the_server_with_structural_fallback(rehearsal):
    run, _ = rehearsal
    summary = _load(run / "rewrite" / "summary.json")
    rows = _rows(run / "rewrite" / "records.jsonl")
    correct = [r for r in rows if r["correct"] and r["finish_reason"] != "length"]
    assert summary["mode"] == "llm" and correct, summary
    by = summary["rewritten_by"]
    assert by.get("llm", 0) + by.get("structural_fallback", 0) == summary["status"]["ok"] > 0
    assert summary["status"]["ok"] + summary["status"].get("failed", 0) == len(correct)
    for r in correct:  # each went to the LLM first: its own rewrite, or why every try failed
        assert r["rewriter"] == "smollm2-135m-instruct" or r["rewrite_llm_errors"].startswith("attempt 1: "), r
    spent = _load(run / "rewrite" / "manifest.json")["cost"]["api_tokens"]["smollm2-135m-instruct"]
    assert spent["in"] > 0 and spent["out"] > 0  # tokens the server reported for the rewrite requests
    curated = _load(run / "curate" / "summary.json")
    assert curated["kept"] > 0


def test_trained_in_two_processes(rehearsal):
    run, _ = rehearsal
    train = _load(run / "train" / "summary.json")
    assert train["world_size"] == 2 and train["global_batch_size"] == 8 and train["steps"] >= 1
    assert sorted(r["rank"] for r in train["ranks"]) == [0, 1] and {r["world_size"] for r in train["ranks"]} == {2}
    assert _load(run / "train" / "manifest.json")["config"]["processes"] == 2
    assert (run / "train" / "model" / "config.json").exists()


def test_base_and_trained_evaluated_through_the_server(rehearsal, server, embedded_path):
    run, res = rehearsal
    trained = str((run / "train" / "model").absolute())
    for label in ("base", "trained"):
        for task in ("arithmetic", "puzzles"):
            base = run / "evaluate" / label / task
            result = _load(base / "result.json")
            assert result["n_problems"] == EVAL_LIMIT and 0.0 <= result["accuracy"] <= 1.0
            models = {r["model"] for r in _rows(base / "generate" / "records.jsonl")}
            assert models == {trained if label == "trained" else str(embedded_path)}, models
    log = server["log"].read_text()
    assert f"Loading {trained}" in log  # the server itself loaded the trained checkpoint by its path
    rewrites = sum(r["rewrite"] not in ("skipped:incorrect", "skipped:truncated")
                   for r in _rows(run / "rewrite" / "records.jsonl"))
    # every request went through the server: generation, one try per rewrite, 2 models x 2 tasks x EVAL_LIMIT
    assert log.count('"POST /v1/chat/completions HTTP/1.1" 200') >= N_SAMPLES + rewrites + 4 * EVAL_LIMIT
    report = (run / "report" / "report.md").read_text()
    assert "report.md" in res.stdout and "trained" in report and "base" in report

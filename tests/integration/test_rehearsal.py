"""The full-shape rehearsal: `skyt1 run sky-t1-rehearsal` against a real OpenAI-compatible server
(`transformers serve`, serving the embedded model) for the teacher, the LLM rewriter and both
evaluations, on a math + code + puzzle mixture, with training launched in 2 processes. The same
stages and wiring as sky-t1-32b-preview; if this holds together, the 32B recipe's shape does."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedded_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    cmd = [str(Path(sys.executable).parent / "transformers"), "serve", "--host", "127.0.0.1", "--port", str(port),
           "--device", "cpu", "--dtype", "float32"]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.time() < deadline, "transformers serve did not start in 120 s"
        time.sleep(0.5)
    yield url + "/v1", log
    proc.terminate()
    proc.wait(timeout=30)


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_rehearsal_runs_the_32b_shape_end_to_end(tmp_path, server):
    url, log = server
    run = tmp_path / "run"
    sets = [f"run_dir={run}", f"generate.teacher.args.base_url={url}", f"rewrite.rewriter.args.base_url={url}",
            f"evaluate.backend_args.base_url={url}"]
    cmd = [sys.executable, "-m", "skyt1.cli", "run", "sky-t1-rehearsal", *sum((["--set", s] for s in sets), [])]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert res.returncode == 0, res.stderr[-4000:]

    gen = json.loads((run / "generate" / "summary.json").read_text())
    assert {k: v["problems"] for k, v in gen["by_source"].items()} == {"math": 16, "code": 4, "puzzles": 8}
    verdicts = _records(run / "score" / "records.jsonl")
    assert {(r["source"], r["verifier"]) for r in verdicts} == {("math", "number"), ("code", "code"),
                                                                 ("puzzles", "choice")}
    assert all(r["model"].endswith("smollm2-135m-instruct") for r in verdicts)  # served by path
    rewritten = _records(run / "rewrite" / "records.jsonl")
    assert any(r.get("rewriter", "").endswith("smollm2-135m-instruct") for r in rewritten)  # the LLM was asked

    train = json.loads((run / "train" / "summary.json").read_text())
    assert train["world_size"] == 2 and train["global_batch_size"] == 8 and len(train["ranks"]) == 2

    for label in ("base", "trained"):
        for task in ("arithmetic", "puzzles"):
            result = json.loads((run / "evaluate" / label / task / "result.json").read_text())
            assert result["n_problems"] == 8 and 0 <= result["accuracy"] <= 1
    served = log.read_text()
    assert str((run / "train" / "model").absolute()) in served  # the trained checkpoint went through the server
    assert (run / "report" / "report.md").is_file()

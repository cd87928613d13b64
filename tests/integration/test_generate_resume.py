"""kill -9 in the middle of `skyt1 generate`, then the same command: exactly problems x n samples."""

import json
import subprocess
import sys

import pytest
from crash import kill_9_after

pytestmark = pytest.mark.integration

ARGS = ["--set", "generate.limit=6", "--set", "generate.sampling.n=3", "--set", "generate.sampling.max_tokens=12",
        "--set", "generate.teacher.batch_size=2"]


def _cmd(out):
    return [sys.executable, "-m", "skyt1.cli", "generate", *ARGS, "--out", str(out)]


def test_kill_9_then_resume(tmp_path, embedded_path):
    out = tmp_path / "gen"
    records = out / "records.jsonl"
    kill_9_after(_cmd(out), records, lines=4)
    partial = records.read_text().count("\n")
    assert 4 <= partial < 18
    assert not (out / "manifest.json").exists()  # an unfinished stage never looks finished
    killed = json.loads((out / "spent.json").read_text())  # the killed attempt's spend, kept
    assert len(killed) == 1

    res = subprocess.run(_cmd(out), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    keys = [(r["problem_id"], r["index"]) for r in rows]
    assert len(rows) == 18 and len(set(keys)) == 18
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["generated_now"] == 18 - partial and (out / "manifest.json").exists()
    cost = json.loads((out / "manifest.json").read_text())["cost"]
    assert cost["attempts"] == 2 and cost["wall_seconds"] >= next(iter(killed.values()))["wall_seconds"]
    assert cost["completion_tokens"] == sum(r["usage"]["completion_tokens"] for r in rows)  # each sample once

    again = subprocess.run(_cmd(out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "nothing to do" in again.stderr

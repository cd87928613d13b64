"""kill -9 in the middle of the standalone `skyt1 score`, then the same command: every row scored once."""

import json
import shutil
import subprocess
import sys

import pytest
from crash import kill_9_after

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")]

SLOW_ECHO = "```python\nimport time\ntime.sleep(0.4)\nprint(input())\n```"


def test_kill_9_then_resume_scores_only_the_rest(tmp_path):
    src = tmp_path / "code.jsonl"
    rows = [{"id": f"p{i}", "response": SLOW_ECHO, "tests": {"inputs": [f"{i}\n"], "outputs": [f"{i if i % 3 else -1}\n"]}}
            for i in range(12)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    records = tmp_path / ".scored.jsonl.stage" / "records.jsonl"  # score.file_stage
    cmd = [sys.executable, "-m", "skyt1.cli", "score", "--task", "code", "--in", str(src), "--out", str(out),
           "--workers", "1"]
    kill_9_after(cmd, records, lines=3, timeout=120)  # 3 verdicts
    assert not out.exists()  # a partial result never looks complete
    kept = records.read_text().count("\n")

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"resuming: {kept} of 12 rows already scored" in res.stderr
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == [r["id"] for r in rows]
    assert [g["correct"] for g in got] == [i % 3 != 0 for i in range(12)]
    assert json.loads(res.stdout.strip().splitlines()[-1])["accuracy"] == pytest.approx(8 / 12)
    assert not records.parent.exists()

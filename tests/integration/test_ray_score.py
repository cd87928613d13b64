"""Scoring on a local Ray cluster started here: shards run as Ray tasks, each with its own verifier
processes (math-verify, and the bubblewrap sandbox for code), and the verdicts equal local ones."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from skyt1.config import RayScoring
from skyt1.records import Stage
from skyt1.stages.score import score

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")]

MATH = [{"problem_id": f"m{i}", "index": 0, "response": f"so \\boxed{{{i if i % 4 else i + 1}}}", "answer": str(i),
         "verifier": "math"} for i in range(9)]
CODE = [{"problem_id": f"c{i}", "index": 0, "response": f"```python\nprint(int(input()) + {i % 2})\n```",
         "tests": {"inputs": ["1\n"], "outputs": ["1\n"]}, "verifier": "code"} for i in range(4)]


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)
    yield
    ray.shutdown()


def _score(tmp_path, name, **kw):
    stage = Stage(tmp_path / name, "score", {"test": name})
    stage.check()
    summary = score(MATH + CODE, stage, workers=1, ks=[1], **kw)
    verdicts = {tuple(r["_key"]): (r["correct"], r["extracted"], r["reason"]) for r in stage.records()}
    return summary, verdicts


def test_ray_verdicts_equal_local_ones(cluster, tmp_path):
    local_summary, local = _score(tmp_path, "local")
    ray_summary, on_ray = _score(tmp_path, "ray", ray=RayScoring(shard_size=3))
    assert on_ray == local and len(on_ray) == 13
    assert ray_summary == local_summary
    assert [local[(f"m{i}", 0)][0] for i in range(9)] == [i % 4 != 0 for i in range(9)]
    assert [local[(f"c{i}", 0)][0] for i in range(4)] == [True, False, True, False]


def test_cli_score_on_ray(cluster, tmp_path):
    from skyt1.cli import app

    src = tmp_path / "answers.jsonl"
    src.write_text("".join(json.dumps({"response": r["response"], "answer": r["answer"]}) + "\n" for r in MATH))
    out = tmp_path / "scored.jsonl"
    res = CliRunner().invoke(app, ["score", "--task", "math", "--in", str(src), "--out", str(out), "--workers", "1",
                                   "--ray", "local"])
    assert res.exit_code == 0, res.output
    assert [json.loads(line)["correct"] for line in out.read_text().splitlines()] == [i % 4 != 0 for i in range(9)]
    assert ray.is_initialized()  # a caller's cluster is joined, and left running


def test_cli_starts_and_stops_its_own_local_cluster(tmp_path):
    import subprocess
    import sys

    src = tmp_path / "answers.jsonl"
    src.write_text("".join(json.dumps({"response": r["response"], "answer": r["answer"]}) + "\n" for r in MATH[:3]))
    res = subprocess.run([sys.executable, "-m", "skyt1.cli", "score", "--task", "math", "--in", str(src),
                          "--workers", "1", "--ray", "local"], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1])["accuracy"] == pytest.approx(2 / 3)

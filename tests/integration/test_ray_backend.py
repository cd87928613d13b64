"""`backend: ray` on a local Ray cluster started here: the generate stage fans shards out to actors
running the embedded model, writes exactly problems x n samples, and resumes with only the missing ones."""

import json
import subprocess
import sys

import pytest
from crash import kill_9_after

from skyt1.config import ModelSpec, Sampling
from skyt1.records import Stage
from skyt1.stages.generate import generate
from skyt1.tasks import get_task

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.integration

N_PROBLEMS, N = 4, 2
SAMPLING = Sampling(n=N, max_tokens=8, temperature=0.7, seed=3)


def _teacher(**args) -> ModelSpec:
    return ModelSpec(backend="ray", batch_size=2,
                     args={"inner": "embedded", "num_workers": 2, "shard_size": 2, **args})


@pytest.fixture(scope="module")
def cluster(embedded_path):
    # embedded_path dequantizes the model in the driver first, so the workers only load the cache.
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def task():
    t = get_task("arithmetic")
    problems = t.problems("train", N_PROBLEMS)
    return problems, {p["id"]: t.render(p) for p in problems}


def _stage(path) -> Stage:
    stage = Stage(path, "generate", {"test": "ray"})
    stage.check()
    return stage


def _rows(stage: Stage) -> list[dict]:
    return [json.loads(line) for line in stage.records_path.read_text().splitlines()]


def test_generate_on_ray_workers(cluster, task, tmp_path):
    problems, prompts = task
    stage = _stage(tmp_path / "gen")
    summary = generate(problems, prompts, stage, teacher=_teacher(), sampling=SAMPLING)

    rows = _rows(stage)
    keys = [(r["problem_id"], r["index"]) for r in rows]
    assert len(rows) == N_PROBLEMS * N and len(set(keys)) == len(keys)
    assert set(keys) == {(p["id"], i) for p in problems for i in range(N)}
    assert all(r["model"] == "smollm2-135m-instruct" for r in rows)
    assert all(r["usage"]["prompt_tokens"] > 0 and 0 < r["usage"]["completion_tokens"] <= 8 for r in rows)
    assert all(r["finish_reason"] in ("stop", "length") and r["response"] for r in rows)
    assert summary["samples"] == summary["generated_now"] == N_PROBLEMS * N
    assert summary["model"] == "smollm2-135m-instruct" and stage.finished


def test_resume_generates_only_missing(cluster, task, tmp_path):
    problems, prompts = task
    stage = _stage(tmp_path / "gen")
    # A run that stopped after 3 samples: their records are kept as they are.
    kept = [{**{k: v for k, v in p.items() if k != "id"}, "problem_id": p["id"], "index": i, "model": "earlier",
             "prompt": prompts[p["id"]], "response": f"kept {p['id']} {i}", "finish_reason": "stop",
             "usage": {"prompt_tokens": 1, "completion_tokens": 1}, "seconds": 0.0}
            for p, i in [(problems[0], 0), (problems[0], 1), (problems[2], 1)]]
    with stage.writer() as write:
        for r in kept:
            write(r)

    summary = generate(problems, prompts, stage, teacher=_teacher(), sampling=SAMPLING)

    rows = _rows(stage)
    keys = [(r["problem_id"], r["index"]) for r in rows]
    assert len(rows) == N_PROBLEMS * N and len(set(keys)) == len(keys)
    assert rows[:3] == kept  # untouched, and not generated again
    assert summary["generated_now"] == N_PROBLEMS * N - 3
    assert all(r["model"] == "smollm2-135m-instruct" for r in rows[3:])


def test_label_and_bad_inner_backend():
    from skyt1.backends.ray import inner_label, ray_options

    opts, inner = ray_options(_teacher(device="cpu"))
    assert (opts.num_workers, opts.shard_size, inner.backend, inner.args) == (2, 2, "embedded", {"device": "cpu"})
    assert inner_label(inner) == "smollm2-135m-instruct"
    _, inner = ray_options(ModelSpec(backend="ray", model="Qwen/QwQ-32B-Preview", args={"inner": "vllm"}))
    assert inner_label(inner) == "Qwen/QwQ-32B-Preview" and inner.backend == "vllm"
    with pytest.raises(ValueError, match="inner backend 'ray'"):
        ray_options(ModelSpec(backend="ray", args={"inner": "ray"}))
    with pytest.raises(ValueError, match="num_workers"):
        ray_options(_teacher(num_workers=0))


RAY_ARGS = ["--set", "generate.limit=6", "--set", "generate.sampling.n=3", "--set", "generate.sampling.max_tokens=12",
            "--set", "generate.teacher.batch_size=2", "--set", "generate.teacher.backend=ray",
            "--set", "generate.teacher.args.inner=embedded", "--set", "generate.teacher.args.num_cpus=2",
            "--set", "generate.teacher.args.num_workers=2", "--set", "generate.teacher.args.shard_size=2"]


@pytest.mark.slow
def test_kill_9_mid_run_then_resume(tmp_path, embedded_path):
    """`skyt1 generate` on its own local Ray cluster, killed with SIGKILL (driver, raylet, workers)
    after some shards were written; the same command then finishes with exactly 18 samples."""
    out = tmp_path / "gen"
    records = out / "records.jsonl"
    cmd = [sys.executable, "-m", "skyt1.cli", "generate", *RAY_ARGS, "--out", str(out)]
    kill_9_after(cmd, records, lines=4)
    partial = records.read_text().count("\n")
    assert 4 <= partial < 18 and not (out / "manifest.json").exists()

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in records.read_text().splitlines()]
    assert len(rows) == 18 and len({(r["problem_id"], r["index"]) for r in rows}) == 18
    assert json.loads(res.stdout.strip().splitlines()[-1])["generated_now"] == 18 - partial

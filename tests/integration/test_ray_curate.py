"""Curation with ``curate.ray`` on a local Ray cluster started here: MinHash signatures and
benchmark checks run as Ray tasks over shards of each batch's problems, and every output equals
the local run's."""

import json

import pytest

from skyt1.config import CurateConfig, RayScoring
from skyt1.records import Stage
from skyt1.stages.curate import curate
from skyt1.tasks import get_task

ray = pytest.importorskip("ray")

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)
    yield
    ray.shutdown()


def _rows() -> list[dict]:
    gsm = get_task("gsm8k").problems("train")[:30]
    m500 = get_task("math500").problems()[:3]
    problems = gsm + [{**gsm[4], "id": "dup/exact", "question": gsm[4]["question"].upper()},
                      {**gsm[7], "id": "dup/near", "question": gsm[7]["question"] + " Explain."},
                      *({**p, "id": f"copy/{i}", "question": "Solve this. " + p["question"]}
                        for i, p in enumerate(m500))]
    rows = []
    for p in problems:
        for i in range(2):
            steps = " ".join(f"step {j} gives {j * (i + 3) + 7}." for j in range(12))  # two different traces
            thought = f"Thinking about {p['id']} in attempt {i}: {steps}"
            rows.append({"problem_id": p["id"], "task": p["id"].split("/")[0], "domain": "math",
                         "question": p["question"], "answer": str(p.get("answer", "1")), "index": i, "model": "t",
                         "response": thought,
                         "finish_reason": "stop", "correct": True, "reason": "correct", "extracted": "1",
                         "usage": {"completion_tokens": 50 + i},
                         "formatted": f"<|begin_of_thought|>\n\n{thought}\n\n<|end_of_thought|>\n\n"
                                      f"<|begin_of_solution|>\n\n$\\boxed{{1}}$\n\n<|end_of_solution|>",
                         "rewrite": "ok"})
    return rows


def _run(tmp_path, name, **over):
    cfg = CurateConfig(name="r", decontaminate=["math500"], histograms=False, **over)
    stage = Stage(tmp_path / name, "curate", cfg.model_dump(exclude={"ray"}))
    stage.check()
    summary = curate(_rows(), stage, cfg)
    dropped = (stage.dir / "dropped.jsonl").read_text().splitlines()
    return summary, stage.records(), [json.loads(x) for x in dropped]


def test_ray_curation_equals_local(cluster, tmp_path):
    local = _run(tmp_path, "local")
    on_ray = _run(tmp_path, "ray", ray=RayScoring(shard_size=4))
    reasons = {d["problem_id"]: d["drop_reason"].split(":")[0] for d in local[2]}
    assert reasons == {"dup/exact": "duplicate_of", "dup/near": "near_duplicate_of", "copy/0": "contaminated",
                       "copy/1": "contaminated", "copy/2": "contaminated"}
    assert on_ray[1] == local[1] and on_ray[2] == local[2]
    strip = ("exports", "dropped_file")
    same = [k for k in local[0] if k not in strip]
    assert {k: on_ray[0][k] for k in same} == {k: local[0][k] for k in same}
    assert ray.is_initialized()  # a caller's cluster is joined, and left running


def test_mapper_runs_shards_as_ray_tasks_in_order(cluster):
    import os

    from skyt1.curation.shards import Mapper, problem_features

    questions = [p["question"] for p in get_task("gsm8k").problems("train")[:7]]
    mapper = Mapper(RayScoring(shard_size=2))
    pids = mapper(lambda items: [os.getpid() for _ in items], list(range(7)))
    assert len(pids) == 7 and os.getpid() not in pids  # ran in Ray's workers, not here
    remote, local = mapper(problem_features, questions), problem_features(questions)
    assert [(a, s.tolist(), n) for a, s, n in remote] == [(a, s.tolist(), n) for a, s, n in local]
    mapper.close()
    assert ray.is_initialized()  # close() leaves a cluster it did not start

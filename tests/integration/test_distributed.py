"""Training across processes through the path users run: `skyt1 train` starts `accelerate launch`
itself when the recipe plans more than one process. On this CPU machine the two ranks join over
gloo, through the shipped `ddp` config (DDP) and the shipped `fsdp2` config (FSDP2 full sharding,
`skyt1.stages.fsdp_cpu`): the same launch path and configs as on GPUs, for SFT and for SimPO."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from skyt1.stages.train import last_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _data(path: Path, n: int) -> Path:
    rows = [{"messages": [
        {"role": "user", "content": f"What is {i} + {i + 1}?"},
        {"role": "assistant", "content": f"{i} + {i + 1} = {2 * i + 1}. The answer is {2 * i + 1}."},
    ]} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _train(tmp_path: Path, out: str, data: Path, *sets: str, **popen) -> subprocess.Popen:
    args = [sys.executable, "-m", "skyt1.cli", "train", "--recipe", "tiny", "--data", str(data), "--out",
            str(tmp_path / out), "--set", f"run_dir={tmp_path / 'run'}", "--set", "threads=1",
            "--set", "train.max_seq_length=128", "--set", "train.warmup_ratio=0", "--set", "train.save_steps=100"]
    for s in sets:
        args += ["--set", s]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _summary(proc: subprocess.Popen) -> dict:
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0, stderr[-4000:]
    return json.loads(stdout.strip().splitlines()[-1])


SHARDING = {"ddp": ("MULTI_CPU", 1.0), "fsdp2": ("FSDP", 0.5)}  # accelerate's type, each rank's parameter share
MATCH = ("train.max_steps=3", "train.global_batch_size=4", "train.learning_rate=5e-5")


@pytest.fixture(scope="module")
def one_process(tmp_path_factory, embedded_path) -> dict:
    tmp = tmp_path_factory.mktemp("one")
    return _summary(_train(tmp, "one", _data(tmp / "d.jsonl", 12), *MATCH, "train.per_device_batch_size=4"))


@pytest.mark.parametrize("config", sorted(SHARDING))
def test_two_processes_match_one_with_the_same_global_batch(tmp_path, one_process, config):
    """The embedded model, 3 steps at global batch 4: 1 process x 4 against 2 processes x 2."""
    one, data = one_process, _data(tmp_path / "d.jsonl", 12)
    two = _summary(_train(tmp_path, "two", data, *MATCH, "train.per_device_batch_size=2", "train.processes=2",
                          f"train.accelerate_config={config}"))
    assert one["world_size"] == 1 and two["world_size"] == 2 and two["global_batch_size"] == 4
    assert sorted(r["rank"] for r in two["ranks"]) == [0, 1] and {r["world_size"] for r in two["ranks"]} == {2}
    kind, share = SHARDING[config]
    assert [(r["distributed_type"], r["param_share"]) for r in two["ranks"]] == [(kind, share)] * 2, two["ranks"]
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["config"]["processes"] == 2 and manifest["config"]["per_device_batch_size"] == 2
    assert len(one["loss_curve"]) == len(two["loss_curve"]) == 3
    # Same examples per step, gradients all-reduced: equal up to float summation order.
    assert max(abs(a - b) for a, b in zip(one["loss_curve"], two["loss_curve"])) < 0.01, (one["loss_curve"],
                                                                                            two["loss_curve"])


def test_batch_arithmetic_uses_the_planned_world_size(tmp_path):
    data = _data(tmp_path / "d.jsonl", 4)
    proc = _train(tmp_path, "bad", data, "train.per_device_batch_size=2", "train.processes=2",
                  "train.global_batch_size=2")
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "world size (2) = 4" in stderr, stderr[-2000:]
    assert not (tmp_path / "bad" / "recipe.yaml").exists()  # refused before any process started


def _rank_pid(rank: int, out: Path) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"skyt1.stages.train" in cmd and str(out).encode() in cmd and f"RANK={rank}".encode() in env:
            return int(entry.name)
    return None


def _hooked(tmp_path: Path, code: str) -> dict:
    """An environment in which every Python started runs ``code`` first (a ``sitecustomize``)."""
    hook = tmp_path / "hook"
    hook.mkdir(exist_ok=True)
    (hook / "sitecustomize.py").write_text(code, encoding="utf-8")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), *filter(None, [os.environ.get("PYTHONPATH")])])}


# Loaded by every Python the first run starts (sitecustomize on PYTHONPATH): rank 1 writes half of
# its RNG file in checkpoint-8, says so, and hangs there, where it is killed.
TORN_WRITE = """
import os
if os.environ.get("RANK") == "1":
    import io, time, torch
    save = torch.save
    def torn(obj, f, *args, **kwargs):
        if not str(f).endswith(os.path.join("checkpoint-8", "rng_state_1.pth")):
            return save(obj, f, *args, **kwargs)
        buf = io.BytesIO()
        save(obj, buf, *args, **kwargs)
        with open(f, "wb") as fh:
            fh.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        open(os.environ["TORN_MARK"], "w").close()
        time.sleep(600)
    torch.save = torn
"""


@pytest.mark.parametrize("config", sorted(SHARDING))
def test_kill_9_of_one_rank_mid_checkpoint_then_a_rerun_resumes(tmp_path, tiny_model, config):
    """Rank 1 is killed halfway through writing its part of checkpoint-8: that checkpoint must not
    count as complete (rank 0 used to mark it so without waiting), and the rerun resumes from 4."""
    data = _data(tmp_path / "d.jsonl", 32)
    sets = ("train.base.backend=transformers", f"train.base.model={tiny_model}", "train.per_device_batch_size=2",
            "train.processes=2", "train.max_steps=12", "train.save_steps=4", "train.save_total_limit=3",
            f"train.accelerate_config={config}")
    out, mark = tmp_path / "train", tmp_path / "torn"
    first = _train(tmp_path, "train", data, *sets, start_new_session=True,
                   env={**_hooked(tmp_path, TORN_WRITE), "TORN_MARK": str(mark)})
    deadline = time.time() + 300
    while not mark.exists():
        assert first.poll() is None, first.communicate()[1][-3000:]
        assert time.time() < deadline, "rank 1 never reached checkpoint-8"
        time.sleep(0.05)
    time.sleep(1.0)  # rank 0's time to (wrongly) finish checkpoint-8 if it does not wait for rank 1
    os.kill(_rank_pid(1, out), signal.SIGKILL)
    _, stderr = first.communicate(timeout=300)
    assert first.returncode == 1 and "training in 2 processes exited" in stderr, stderr[-3000:]
    assert not (out / "manifest.json").exists()
    assert last_checkpoint(out / "checkpoints").name == "checkpoint-4"

    summary = _summary(_train(tmp_path, "train", data, *sets))
    assert summary["resumed_from"] == "checkpoint-4" and summary["steps"] == 12 and summary["world_size"] == 2


def test_a_rank_failing_after_the_stage_finished_is_a_warning(tmp_path):
    """Rank 1 exits with 3 at interpreter exit, after rank 0 wrote the manifest: the result is whole."""
    data = _data(tmp_path / "d.jsonl", 8)
    exit_3 = "import atexit, os\nif os.environ.get('RANK') == '1':\n    atexit.register(os._exit, 3)\n"
    proc = _train(tmp_path, "train", data, "train.per_device_batch_size=2", "train.processes=2", "train.max_steps=2",
                  env=_hooked(tmp_path, exit_3))
    stdout, stderr = proc.communicate(timeout=900)
    assert proc.returncode == 0 and "exited with 1 after the stage had finished" in stderr, stderr[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["steps"] == 2 and summary["world_size"] == 2
    assert (tmp_path / "train" / "manifest.json").is_file()


def test_a_failing_rank_reports_its_error(tmp_path, tiny_model):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "no answer"}]}) + "\n", encoding="utf-8")
    proc = _train(tmp_path, "train", bad, "train.base.backend=transformers", f"train.base.model={tiny_model}",
                  "train.per_device_batch_size=1", "train.processes=2", "train.max_steps=1")
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1 and re.search(r"rank[01] failed", stderr), stderr[-3000:]
    assert "the last message must be the assistant's" in stderr, stderr[-3000:]


def _pairs(path: Path) -> Path:
    """Preference pairs as curation exports them: two kinds for each of 8 problems."""
    from skyt1.curation.select import preference_pairs

    verdicts = [{"problem_id": f"p{p}", "index": i, "question": f"What is {p} + {p}?", "response": resp,
                 "correct": ok, "finish_reason": "stop", "usage": {"completion_tokens": len(resp.split())}}
                for p in range(8)
                for i, (resp, ok) in enumerate([(f"{2 * p}", True), (f"Let me check. {p} + {p} = {2 * p}.", True),
                                                ("7", False)])]
    path.write_text("".join(json.dumps(r) + "\n" for r in preference_pairs(verdicts)), encoding="utf-8")
    return path


def test_simpo_across_two_fsdp2_processes_matches_one(tmp_path, tiny_model):
    """The Sky-T1-32B-Flash recipe's SimPO stage, 2 steps at global batch 4: 1 process x 4 against 2
    FSDP2 processes x 2, each holding half the parameters."""
    pairs = _pairs(tmp_path / "pairs.jsonl")

    def simpo(out: str, *sets: str) -> dict:
        args = [sys.executable, "-m", "skyt1.cli", "train", "--recipe", "sky-t1-32b-flash", "--data", str(pairs),
                "--out", str(tmp_path / out), "--set", f"run_dir={tmp_path / 'run'}", "--set", "threads=1"]
        for s in (f"preference.base={{backend: transformers, model: {tiny_model}}}", "preference.bf16=false",
                  "preference.global_batch_size=null", "preference.gradient_accumulation_steps=1",
                  "preference.gradient_checkpointing=false", "preference.max_seq_length=128",
                  "preference.max_steps=2", "preference.save_steps=100", *sets):
            args += ["--set", s]
        return _summary(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    one = simpo("one", "preference.per_device_batch_size=4", "preference.processes=1")
    two = simpo("two", "preference.per_device_batch_size=2", "preference.processes=2",
                "preference.accelerate_config=fsdp2")
    assert one["loss"] == two["loss"] == "simpo" and one["global_batch_size"] == two["global_batch_size"] == 4
    assert [(r["distributed_type"], r["param_share"]) for r in two["ranks"]] == [("FSDP", 0.5)] * 2, two["ranks"]
    assert max(abs(a - b) for a, b in zip(one["loss_curve"], two["loss_curve"], strict=True)) < 0.01, (
        one["loss_curve"], two["loss_curve"])
    assert (tmp_path / "two" / "model" / "model.safetensors").exists()

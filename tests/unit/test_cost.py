"""The cost ledger keeps what crashed attempts of a stage spent."""

import json
import time

from skyt1.cost import Ledger
from skyt1.records import Stage


def test_a_resumed_stage_adds_what_the_killed_attempt_spent(tmp_path):
    stage = Stage(tmp_path / "gen", "generate", {"x": 1})
    stage.check()
    # What a process killed after 100 s leaves: its last heartbeat.
    stage.spent_path.write_text(json.dumps({"dead": {"wall_seconds": 100.0, "cpu_seconds": 150.0}}))
    ledger = Ledger(stage="generate").start(carry=stage.spent_path)
    on_disk = json.loads(stage.spent_path.read_text())
    assert set(on_disk) == {"dead", ledger._id}  # this attempt is on record from its start
    time.sleep(0.05)
    ledger.stop(gpus=2)
    d = ledger.to_dict({"gpu_hour": {"H100": 3.6}})
    assert d["attempts"] == 2
    assert 100.05 <= d["wall_seconds"] < 101 and d["cpu_seconds"] >= 150.0
    assert 200.1 <= d["gpu_seconds"] < 202  # the earlier wall seconds count this attempt's GPUs
    assert json.loads(stage.spent_path.read_text())[ledger._id]["wall_seconds"] >= 0.05
    stage.finish({}, d)
    assert not stage.spent_path.exists()  # once in the manifest, not counted again


def test_without_carry_nothing_is_written(tmp_path):
    ledger = Ledger(stage="score").start()
    ledger.stop()
    assert ledger.attempts == 1 and list(tmp_path.iterdir()) == []

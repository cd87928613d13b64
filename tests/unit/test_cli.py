"""The CLI contract: every command has --help with an example; `score` on any JSONL."""

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from skyt1.cli import app

COMMANDS = ["tasks", "generate", "score", "rewrite", "curate", "train", "evaluate", "report", "run", "cost"]
runner = CliRunner()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_an_example(command):
    res = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "Example" in res.output and "skyt1" in res.output


def test_top_level_help_is_instant_and_lists_commands():
    code = "import sys, skyt1.cli; print(sorted(m for m in ('torch', 'transformers', 'trl', 'ray', 'vllm') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"  # heavy imports stay inside the commands
    res = runner.invoke(app, ["--help"], terminal_width=200)
    for c in COMMANDS:
        assert c in res.output


def test_score_generic_math_rows(tmp_path):
    src = tmp_path / "answers.jsonl"
    rows = [{"id": "a", "response": "so \\boxed{\\frac{1}{2}}", "answer": "0.5"},
            {"id": "b", "response": "the answer is 7", "answer": "8"},
            {"id": "c", "response": "no idea", "answer": "3"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "scored.jsonl"
    res = runner.invoke(app, ["score", "--task", "math", "--in", str(src), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["accuracy"] == pytest.approx(1 / 3)
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["correct"] for g in got] == [True, False, False]
    assert [g["reason"] for g in got] == ["correct", "wrong_answer", "no_answer"]
    assert got[0]["extracted"] is not None and got[2]["extracted"] is None


def test_score_named_task_by_problem_id(tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text(json.dumps({"id": "arithmetic/2+2", "response": "2 + 2 = 4"}) + "\n"
                   + json.dumps({"id": "arithmetic/2+2", "response": "\\boxed{5}"}) + "\n")
    res = runner.invoke(app, ["score", "--task", "arithmetic", "--in", str(src), "--workers", "1"])
    assert res.exit_code == 0, res.output
    got = [json.loads(line) for line in (tmp_path / "r.scored.jsonl").read_text().splitlines()]
    assert [g["correct"] for g in got] == [True, False]


def test_malformed_input_names_file_and_line_and_writes_nothing(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"response": "1", "answer": "1"}\n{"response": "2", "answer": \n')
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["score", "--task", "math", "--in", str(src), "--out", str(out)])
    assert res.exit_code == 2
    assert f"{src}:2: malformed JSON" in res.output
    assert not out.exists()
    src.write_text('{"response": "1"}\n')
    res = runner.invoke(app, ["score", "--task", "math", "--in", str(src), "--out", str(out)])
    assert res.exit_code == 2 and f"{src}:1: missing field 'answer'" in res.output


def test_unknown_recipe_key_is_a_clear_error(tmp_path):
    res = runner.invoke(app, ["run", "--set", "train.epochz=1"])
    assert res.exit_code == 2 and "unknown key 'train.epochz'" in res.output


def test_train_launch_prints_accelerate_command():
    res = runner.invoke(app, ["train", "--launch", "--set", "train.num_gpus=8", "--set", "train.accelerate_config=zero3_offload"],
                        terminal_width=400)
    assert res.exit_code == 0, res.output
    assert "-m accelerate.commands.launch" in res.output and "--num_processes 8" in res.output and "skyt1.stages.train" in res.output


def test_train_launch_on_two_nodes_names_this_node_and_the_main_one():
    base = ["train", "-r", "sky-t1-32b-preview", "--launch", "--set", "train.num_nodes=2"]
    res = runner.invoke(app, [*base, "--machine-rank", "1", "--main-process-ip", "10.0.0.1"], terminal_width=400)
    assert res.exit_code == 0, res.output
    for flag in ("--num_processes 16", "--num_machines 2", "--machine_rank 1", "--main_process_ip 10.0.0.1"):
        assert flag in res.output
    res = runner.invoke(app, base, terminal_width=400)
    assert res.exit_code == 2 and "--main-process-ip" in res.output


def test_cost_without_token_counts_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ here: nothing curated yet
    res = runner.invoke(app, ["cost", "tiny"], terminal_width=400)
    assert res.exit_code == 2 and "estimate.tokens_per_epoch" in res.output and "Traceback" not in res.output


def test_cost_of_sky_t1_recipe_shows_published_beside_estimate():
    res = runner.invoke(app, ["cost", "sky-t1-32b-preview"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "19 h" in res.output and "$450" in res.output and "estimate" in res.output


def test_generate_with_malformed_problems_marks_nothing_finished(tmp_path):
    src = tmp_path / "problems.jsonl"
    src.write_text('{"id": "p1", "task": "t", "domain": "math", "question": "1+1?", "answer": "2"}\n'
                   '{"id": "p2", "task": "t", "domain": "math", "answer": "3"}\n')
    out = tmp_path / "gen"
    res = runner.invoke(app, ["generate", "--in", str(src), "--out", str(out)])
    assert res.exit_code == 2 and f"{src}:2: missing field 'question'" in res.output
    assert not (out / "manifest.json").exists() and not (out / "summary.json").exists()


def _stage(src, out, **over):
    """The stage a killed `skyt1 score` leaves next to its output (``score.file_stage``)."""
    from skyt1.stages.score import file_stage

    stage = file_stage(src, out, "math", **over)
    stage.check()
    return stage


def test_score_resumes_from_its_stage_and_drops_a_torn_line(tmp_path):
    src = tmp_path / "answers.jsonl"
    src.write_text("".join(json.dumps({"response": f"\\boxed{{{i}}}", "answer": str(i)}) + "\n" for i in range(4)))
    out = tmp_path / "scored.jsonl"
    stage = _stage(src, out)
    # As a killed run leaves it: two verdicts (marked, to see they are kept) and a torn third.
    with stage.writer() as write:
        for i in (0, 2):
            write({"response": f"\\boxed{{{i}}}", "answer": str(i), "correct": True, "extracted": str(i),
                   "reason": "kept", "_key": [i]})
    with stage.records_path.open("a") as fh:
        fh.write('{"response": "x", "corr')
    res = runner.invoke(app, ["score", "--task", "math", "--in", str(src), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "resuming: 2 of 4 rows already scored" in res.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["reason"] for g in got] == ["kept", "correct", "kept", "correct"]
    assert not stage.dir.exists()


def test_score_starts_over_when_the_stage_is_from_other_options(tmp_path):
    src = tmp_path / "answers.jsonl"
    src.write_text(json.dumps({"response": "\\boxed{1}", "answer": "1"}) + "\n")
    out = tmp_path / "scored.jsonl"
    stage = _stage(src, out, timeout=1.0)
    with stage.writer() as write:
        write({"response": "\\boxed{1}", "answer": "1", "correct": False, "extracted": None, "reason": "stale",
               "_key": [0]})
    res = runner.invoke(app, ["score", "--task", "math", "--in", str(src), "--out", str(out), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "resuming" not in res.output
    assert json.loads(out.read_text())["reason"] == "correct"

import json
import os

import pytest

from skyt1.records import RecordError, Stage, StageAlreadyDone, WrittenKeys, batched, read_jsonl


def test_read_jsonl_names_file_line_and_field(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"id": 1, "response": "a"}\n{"id": 2}\n', encoding="utf-8")
    with pytest.raises(RecordError, match=r"x\.jsonl:2: missing field 'response'"):
        list(read_jsonl(p, required=("id", "response")))
    p.write_text('{"id": 1}\n\n{"id": 2,\n', encoding="utf-8")
    with pytest.raises(RecordError, match=r"x\.jsonl:3: malformed JSON"):
        list(read_jsonl(p))
    p.write_text('[1, 2]\n', encoding="utf-8")
    with pytest.raises(RecordError, match=r"x\.jsonl:1: expected a JSON object"):
        list(read_jsonl(p))


def test_stage_lifecycle(tmp_path):
    st = Stage(tmp_path / "gen", "generate", {"a": 1})
    st.check()
    with st.writer() as w:
        w({"k": 1})
        w({"k": 2})
    assert not st.finished and not st.summary_path.exists()
    st.finish({"n": 2}, {"wall_seconds": 0})
    m = json.loads(st.manifest_path.read_text())
    assert m["config_hash"] == st.hash and m["outputs"]["records.jsonl"]
    assert {"versions", "timings", "cost", "inputs", "seed"} <= set(m)
    with pytest.raises(StageAlreadyDone):
        Stage(tmp_path / "gen", "generate", {"a": 1}).check()
    with pytest.raises(RecordError, match="another config"):
        Stage(tmp_path / "gen", "generate", {"a": 2}).check()
    again = Stage(tmp_path / "gen", "generate", {"a": 2})
    again.check(force=True)
    assert again.records() == [] and not again.finished


def test_unfinished_stage_with_other_config_refuses(tmp_path):
    Stage(tmp_path / "s", "score", {"a": 1}).check()
    with pytest.raises(RecordError, match="unfinished run with another config"):
        Stage(tmp_path / "s", "score", {"a": 2}).check()


def test_torn_tail_is_dropped_on_resume(tmp_path):
    st = Stage(tmp_path / "s", "generate", {})
    st.check()
    with st.writer() as w:
        w({"k": 1})
    with st.records_path.open("a") as fh:  # what SIGKILL mid-write leaves behind
        fh.write('{"k": 2, "resp')
    done = st.done_keys(lambda r: r["k"])
    assert len(done) == 1 and 1 in done and 2 not in done
    with st.writer() as w:
        w({"k": 2})
    assert [r["k"] for r in st.records()] == [1, 2]


def test_manifest_write_is_atomic(tmp_path):
    st = Stage(tmp_path / "s", "x", {})
    st.check()
    st.finish({}, {})
    leftovers = [p for p in os.listdir(st.dir) if p.endswith(".tmp")]
    assert leftovers == []


def test_batched_and_iter_records_stream(tmp_path):
    assert list(batched(range(5), 2)) == [[0, 1], [2, 3], [4]] and list(batched([], 3)) == []
    with pytest.raises(ValueError):
        next(batched([1], 0))
    stage = Stage(tmp_path / "s", "s", {})
    stage.check()
    with stage.writer() as write:
        for i in range(3):
            write({"i": i})
    with stage.records_path.open("a") as fh:
        fh.write('{"i": 3')  # torn by a kill
    records = stage.iter_records()
    assert next(records) == {"i": 0}  # one record at a time, the torn tail dropped
    assert list(records) == [{"i": 1}, {"i": 2}]
    done = stage.done_keys(lambda r: r["i"])
    assert len(done) == 3 and all(i in done for i in range(3)) and 3 not in done


def test_written_keys_match_keys_as_json_data():
    done = WrittenKeys([("p1", 0), ("p1", 1), ("p2", 0)])
    assert ("p1", 1) in done and ["p1", 1] in done  # a key read back from JSON is a list
    assert ("p1", 2) not in done and ("p3", 0) not in done and ("p1", "1") not in done
    assert "x" not in WrittenKeys() and len(WrittenKeys()) == 0
    done.add(["p3", 0])  # added after a lookup: still found
    assert ("p3", 0) in done and len(done) == 4
    many = WrittenKeys((f"id{i}", i % 4) for i in range(10_000))
    assert all((f"id{i}", i % 4) in many for i in range(0, 10_000, 97))
    assert not any((f"id{i}", (i + 1) % 4) in many for i in range(0, 10_000, 97))


def test_where_a_model_is_served_is_not_part_of_the_stage_hash(tmp_path):
    from skyt1.config import load_recipe
    from skyt1.stages import generate

    def stage(*sets: str):
        teacher = ["generate.teacher.backend=openai", "generate.teacher.model=served"]
        return generate.plan(load_recipe("tiny", [f"run_dir={tmp_path}", *teacher, *sets]))

    base = stage("generate.teacher.args={base_url: 'http://127.0.0.1:8000/v1', concurrency: 8}")
    moved = stage("generate.teacher.args={base_url: 'http://10.0.0.2:9000/v1', concurrency: 64, rpm: 100}")
    assert base.hash == moved.hash
    assert moved.config["teacher"]["args"]["base_url"] == "http://10.0.0.2:9000/v1"  # still recorded
    assert stage("generate.teacher.model=other").hash != base.hash
    assert stage("generate.teacher.args={extra_body: {top_k: 20}}").hash != base.hash

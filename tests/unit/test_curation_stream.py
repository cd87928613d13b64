"""Streaming curation: near-duplicate recall, near-copy traces, and batches that change nothing."""

from __future__ import annotations

import json
import random

import pytest

from skyt1.config import CurateConfig
from skyt1.curation.copies import SampleDedup, similarity, sketch
from skyt1.curation.dedup import dedup_near, lsh_bands, optimal_bands, signature
from skyt1.records import Stage


def _planted_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` (question, variant) pairs whose MinHash estimate is within [0.8, 0.9), no numbers."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(3, 8))) for _ in range(2000)]
    bases, variants = [], []
    while len(variants) < n:
        words = [rng.choice(vocab) for _ in range(rng.randint(30, 60))]
        edited = list(words)
        for i in rng.sample(range(len(words)), len(words) // 12):
            edited[i] = rng.choice(vocab)
        q, v = " ".join(words), " ".join(edited)
        if 0.8 <= (signature(q) == signature(v)).mean() < 0.9:
            bases.append(q)
            variants.append(v)
    return bases, variants


def test_near_duplicates_at_0_8_are_found_at_least_95_percent_of_the_time():
    bases, variants = _planted_pairs(300)
    items = [{"id": f"b{i}", "question": q} for i, q in enumerate(bases)]
    items += [{"id": f"v{i}", "question": v} for i, v in enumerate(variants)]
    kept, dropped = dedup_near(items, threshold=0.8)
    found = {d["id"] for d in dropped}
    assert not any(i.startswith("b") for i in found)  # no base problem is dropped
    assert len(found) / len(variants) >= 0.95  # measured: 300 of 300
    assert lsh_bands(0.8, 128) == (21, 6)
    # the banding datasketch picks for a 0.8 index, (9, 13), makes far fewer of them candidates
    b, r = optimal_bands(0.8, 128)
    seen = sum(any((signature(q)[i * r:(i + 1) * r] == signature(v)[i * r:(i + 1) * r]).all() for i in range(b))
               for q, v in zip(bases, variants))
    assert (b, r) == (9, 13) and seen / len(variants) < 0.8


def test_signatures_are_deterministic_and_estimate_jaccard():
    q = "A train leaves the station at 3 pm and travels 60 miles per hour toward the city of Springfield."
    assert signature(q).tolist() == signature(q).tolist() and signature(q).dtype.name == "uint32"
    assert 0.8 <= (signature(q) == signature(q.replace("toward", "towards"))).mean() < 1
    assert (signature(q) == signature("Something else entirely, about prime numbers below 100.")).mean() < 0.2


def test_sample_dedup_drops_identical_and_near_copy_traces_of_one_problem_only():
    rng = random.Random(1)
    words = [rng.choice(["alpha", "beta", "gamma", "delta", "sum", "we", "so"]) + str(rng.randint(0, 99))
             for _ in range(1500)]
    trace = " ".join(words)
    near = trace.replace(words[10], "changed", 1).replace(words[700], "edited", 1)
    other = " ".join(rng.sample(words, len(words)))
    assert similarity(sketch(trace), sketch(near)) >= 0.9 > similarity(sketch(trace), sketch(other))
    d = SampleDedup(0.9)
    assert d.check(1, trace, "0") is None
    assert d.check(1, trace, "1") == ("duplicate_sample", None)
    reason, sim = d.check(1, near, "2")
    assert reason == "near_copy_of:0" and 0.9 <= sim <= 1
    assert d.check(1, other, "3") is None
    assert d.check(2000, near, "0") is None  # another problem's trace is never compared
    assert d.check(2, "formatted once", "0", near_text=trace) is None
    assert d.check(2, "formatted twice", "1", near_text=trace)[0] == "near_copy_of:0"  # near: by near_text
    assert SampleDedup(None).check(0, trace) is None
    with pytest.raises(ValueError, match="near_copy_threshold"):
        SampleDedup(1.5)


def _rows(n_problems: int = 40) -> list[dict]:
    rng = random.Random(3)
    rows = []
    for p in range(n_problems):
        q = f"Problem {p}: how many ways can {p + 2} friends sit around a table with {p % 5 + 3} seats?"
        if p % 13 == 12:
            q = rows[0]["question"].upper()  # an exact duplicate of the first problem
        for i in range(4):
            t = " ".join(rng.choice(["we", "count", "seats", "ways", "so", "then"]) + str(rng.randint(0, 999))
                         for _ in range(60 + 10 * i))
            if i == 3 and p % 4 == 0:
                t = rows[-1]["response"][: -5] + " done"  # a near copy of the sample before it
            correct, cut = rng.random() < 0.8, rng.random() < 0.05
            rows.append({"problem_id": f"t{p % 3}/{p}", "task": f"t{p % 3}", "domain": "math", "question": q,
                         "answer": "7", "index": i, "model": "m", "response": t, "finish_reason": "length" if cut
                         else "stop", "correct": correct, "reason": "correct" if correct else "wrong",
                         "extracted": "7", "usage": {"completion_tokens": len(t) // 4}, "rewrite": "ok",
                         "formatted": f"<|begin_of_thought|>\n\n{t}\n\n<|end_of_thought|>\n\n<|begin_of_solution|>"
                                      f"\n\n$\\boxed{{7}}$\n\n<|end_of_solution|>"})
    return rows


def _curate(tmp_path, name, rows, **cfg):
    from skyt1.stages.curate import curate

    config = CurateConfig(name="s", histograms=False, **cfg)
    stage = Stage(tmp_path / name, "curate", config.model_dump())
    stage.check()
    summary = curate(rows, stage, config)
    outputs = {f: (stage.dir / f).read_text() for f in ("records.jsonl", "dropped.jsonl", "s_messages.jsonl",
                                                         "s_sharegpt.json", "s_preference.jsonl")}
    return summary, outputs


@pytest.mark.parametrize("extra", [{}, {"policy": "shortest_correct", "mixture": {"t0": 5, "t1": "all"},
                                        "max_tokens": 140}])
def test_batches_and_a_file_source_change_nothing(tmp_path, monkeypatch, extra):
    import skyt1.stages.curate as stage_module

    rows = _rows()
    whole = _curate(tmp_path, "whole", rows, **extra)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(stage_module, "BATCH", 7)  # batches that split problems, and several passes
    streamed = _curate(tmp_path, "streamed", path, **extra)
    assert streamed[1]["records.jsonl"].splitlines() == [json.dumps(json.loads(x)) for x in
                                                         whole[1]["records.jsonl"].splitlines()]
    for f in ("s_messages.jsonl", "s_sharegpt.json", "s_preference.jsonl"):
        assert streamed[1][f] == whole[1][f], f
    def dropped(out):  # written batch by batch: the same rows, in another order
        return sorted(json.dumps(json.loads(x), sort_keys=True) for x in out[1]["dropped.jsonl"].splitlines())

    assert dropped(streamed) == dropped(whole)
    strip = ("dropped_file", "exports")
    assert {k: v for k, v in streamed[0].items() if k not in strip} == {k: v for k, v in whole[0].items()
                                                                         if k not in strip}
    steps = {s["step"]: s for s in whole[0]["steps"]}
    assert steps["dedup"]["dropped"]["duplicate_of"] > 0
    if extra:  # one sample per problem is left, so no copies; the mixture and length steps ran
        assert steps["mixture"]["targets"]["t0"]["kept"] == 5 and steps["length"]["dropped"]["too_long"] > 0
    else:
        assert steps["dedup_samples"]["dropped"]["near_copy_of"] > 0
    for s in whole[0]["steps"]:
        assert s["in"] == s["kept"] + sum(s["dropped"].values())


def test_bands_in_sorted_runs_answer_as_one_dict_would():
    from skyt1.curation.lsh import Bands

    rng = random.Random(5)
    bases, variants = _planted_pairs(40, seed=5)
    sigs = [signature(q) for q in bases + variants] + [signature(str(rng.random())) for _ in range(30)]
    runs, flat = Bands(21, 6, buffer=3, largest=200), Bands(21, 6, buffer=10**6)
    for i, s in enumerate(sigs):
        assert runs.query(s) == flat.query(s), i
        runs.add(i, s)
        flat.add(i, s)
    assert len(runs._runs._runs) > 5 and not flat._runs._runs  # merged runs on one side, the dict alone on the other
    assert max(len(k) for k, _ in runs._runs._runs) <= 200
    assert all(runs.query(s) == flat.query(s) for s in sigs)
    assert all(i in runs.query(sigs[40 + i]) for i in range(40))  # each variant finds its base


def test_the_user_turn_is_the_prompt_only_when_every_kept_row_has_one(tmp_path):
    rows = _rows(6)
    for r in rows:
        r["prompt"] = "PROMPT: " + r["question"]
    _, out = _curate(tmp_path, "all", rows)
    users = [json.loads(x)["messages"][0]["content"] for x in out["s_messages.jsonl"].splitlines()]
    assert users and all(u.startswith("PROMPT: ") for u in users)
    del rows[-1]["prompt"]  # the last kept row lacks one: the exports are rewritten with the question
    rows[-1]["correct"], rows[-1]["finish_reason"] = True, "stop"
    _, out = _curate(tmp_path, "mixed", rows)
    users = [json.loads(x)["messages"][0]["content"] for x in out["s_messages.jsonl"].splitlines()]
    assert users and not any(u.startswith("PROMPT: ") for u in users)
    assert len(json.loads(out["s_sharegpt.json"])) == len(users)


def test_pair_collector_equals_preference_pairs():
    from skyt1.curation.select import PairCollector, preference_pairs

    rng = random.Random(9)
    rows = [{"problem_id": f"p{rng.randint(0, 30)}", "index": i, "question": "q", "response": "r" * rng.randint(1, 50),
             "correct": rng.random() < 0.6, "finish_reason": "length" if rng.random() < 0.2 else "stop",
             "usage": {"completion_tokens": rng.randint(1, 9)} if rng.random() < 0.7 else {}} for i in range(300)]
    pc = PairCollector()
    for pos, r in enumerate(rows):
        pc.add(pos, r)
    assert list(pc.pairs(rows.__getitem__)) == preference_pairs(rows)


def test_dropped_rows_read_from_a_file_are_written_as_from_a_list(tmp_path):
    """A dropped row of a file source is its input line with the drop fields appended: the same
    bytes as encoding it in full, for rows written with ensure_ascii=False; a row whose fields
    a step replaced is encoded in full."""
    rows = _rows()
    for i, r in enumerate(rows):
        r["question"] += " é"  # not ASCII
        if i % 3 == 0:
            r["drop_reason"] = "an older one"  # replaced by a step that drops the row
    whole = _curate(tmp_path, "whole", rows)
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    streamed = _curate(tmp_path, "streamed", path)
    assert streamed[1]["dropped.jsonl"] == whole[1]["dropped.jsonl"]
    assert len(whole[1]["dropped.jsonl"].splitlines()) > 10
    assert streamed[1]["records.jsonl"] == whole[1]["records.jsonl"]

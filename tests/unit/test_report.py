"""The report on synthetic run directories: what counts as a result, intervals beside scores,
published numbers beside the user's, the macro average, scaling points, charts and HTML."""

from __future__ import annotations

import json
from pathlib import Path

from skyt1.cost import Ledger
from skyt1.metrics import summarize
from skyt1.published import published
from skyt1.report import build_report, markdown_to_html
from skyt1.report.data import macro_average


def _write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


def _stage(d: Path, name: str, config_hash: str, summary: dict, finished: bool = True) -> None:
    _write(d / "config.json", {"stage": name, "config_hash": config_hash})
    if finished:
        _write(d / "summary.json", summary)
        _write(d / "manifest.json", {"stage": name, "config_hash": config_hash, "cost": Ledger(stage=name).to_dict()})


def _evaluation(run: Path, label: str, task: str, correct: list[bool], *, score_finished: bool = True,
                hashes=("g1", "s1"), record_hashes: bool = True) -> dict:
    verdicts = [{"problem_id": f"{task}/{i}", "correct": c, "extracted": "1" if c else "2", "finish_reason": "stop",
                 "usage": {"completion_tokens": 10 + i}} for i, c in enumerate(correct)]
    summary = summarize(verdicts)
    base = run / "evaluate" / label / task
    _stage(base / "generate", "generate", hashes[0],
           {"samples": len(correct), "problems": len(correct), "model": "m", "completion_tokens": 99})
    _stage(base / "score", "score", hashes[1], summary, finished=score_finished)
    result = {**summary, "model": f"{label}-model", "label": label, "task": task, "split": "test",
              "sampling": {"temperature": 0.0, "max_tokens": 64, "n": 1}, "prompt": "{question}\n```python\n```",
              "system_prompt": None, "grader": {"verifier": "math", "math-verify": "0.9.0"}}
    if record_hashes:
        result["stages"] = {"generate": "g1", "score": "s1"}
    _write(base / "result.json", result)
    return result


def test_finished_results_with_intervals_published_scores_and_macro_average(tmp_path):
    _evaluation(tmp_path, "base", "math500", [True, False, True, False])
    _evaluation(tmp_path, "base", "gsm8k", [True, True, True, False])
    paths = build_report(tmp_path, title="t")
    md = paths["markdown"].read_text(encoding="utf-8")
    # the interval sits beside each score
    assert "| math500 | base (`base-model`) | test | 4 | 4 | **50.0%** [" in md
    assert "| gsm8k | base (`base-model`) | test | 4 | 4 | **75.0%** [" in md
    # published numbers for the same benchmark, in the same table, with their source
    for p in published("math500"):
        assert (f"| math500 | *{p['model']}* (published, [source]({p['source']})) | full | | | "
                f"{p['score']:.1f}% |") in md
    # overall: the macro average over tasks with its interval
    assert "| base | gsm8k, math500 | **62.5%** [" in md
    # settings behind every number; a template holding ``` stays inside its own fence
    assert '`{"verifier": "math", "math-verify": "0.9.0"}`' in md and "~~~\n{question}\n```python\n```\n~~~" in md
    assert {"accuracy.png", "tokens.png"} <= set(paths)
    assert all(paths[k].stat().st_size > 0 for k in ("accuracy.png", "tokens.png"))
    page = paths["html"].read_text(encoding="utf-8")
    assert '<img src="accuracy.png"' in page and "<table>" in page and "<strong>50.0%</strong>" in page
    assert "<pre><code>{question}\n```python\n```</code></pre>" in page
    assert "Test-time scaling" not in md and "scaling.png" not in paths


def test_an_unfinished_or_stale_result_is_never_shown(tmp_path):
    _evaluation(tmp_path, "base", "math500", [True, False])
    _evaluation(tmp_path, "trained", "math500", [True, True], score_finished=False)  # re-scoring in progress
    _evaluation(tmp_path, "other", "math500", [True, True], hashes=("g1", "s2"))  # scored since with another config
    _evaluation(tmp_path, "legacy", "gsm8k", [False, True], record_hashes=False)  # no hashes: manifests suffice
    md = build_report(tmp_path)["markdown"].read_text(encoding="utf-8")
    assert "| math500 | base (" in md and "| gsm8k | legacy (" in md
    assert "| math500 | trained (" not in md and "| math500 | other (" not in md
    assert "Unfinished evaluations (no result shown): `other/math500`, `trained/math500`." in md
    assert "| evaluate/trained/math500/score | **unfinished** |  |" in md
    assert "| evaluate/base/math500/score | finished | accuracy 50.0% over 2 samples |" in md


def test_scaling_points_table_and_chart(tmp_path):
    _evaluation(tmp_path, "base", "gsm8k", [True, False])
    base = tmp_path / "evaluate" / "base" / "gsm8k"
    points = []
    for budget, acc in ((64, 0.25), (128, 0.5)):
        d = base / "budget" / "wait2" / str(budget)
        _stage(d / "generate", "generate", f"g{budget}",
               {"samples": 2, "problems": 2, "model": "m", "completion_tokens": 9})
        _stage(d / "score", "score", f"s{budget}", {"accuracy": acc, "n_samples": 2})
        points.append({"method": "budget_forcing", "tokens": budget * 0.9, "accuracy": acc, "ci95": [0.0, acc + 0.1],
                       "n_problems": 2, "max_thinking_tokens": budget, "wait_times": 2,
                       "dir": f"budget/wait2/{budget}", "stages": {"generate": f"g{budget}", "score": f"s{budget}"}})
    points.append({"method": "self_consistency", "n": 4, "tokens": 300.0, "accuracy": 0.5, "ci95": [0.1, 0.9],
                   "n_problems": 2, "temperature": 0.7, "dir": ".", "stages": {"generate": "g1", "score": "s1"}})
    _write(base / "scaling.json", {"label": "base", "task": "gsm8k", "points": points})
    paths = build_report(tmp_path)
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "| gsm8k | base | budget forcing | budget 64, wait x2 | 57.6 | 25.0% [0.0%, 35.0%] | 2 |" in md
    assert "| gsm8k | base | self consistency | maj@4, T=0.7 | 300.0 | 50.0% [10.0%, 90.0%] | 2 |" in md
    assert paths["scaling.png"].stat().st_size > 0 and "![scaling.png](scaling.png)" in md
    # the stage list puts a task's own stages first, then the budgets in numeric order
    order = [line.split(" | ")[0] for line in md.splitlines() if line.startswith("| evaluate/")]
    assert order[:3] == ["| evaluate/base/gsm8k/generate", "| evaluate/base/gsm8k/score",
                         "| evaluate/base/gsm8k/budget/wait2/64/generate"]

    # a point whose stage is not finished (any more) is not shown; the others are
    (base / "budget" / "wait2" / "128" / "score" / "manifest.json").unlink()
    md = build_report(tmp_path)["markdown"].read_text(encoding="utf-8")
    assert "budget 64, wait x2" in md and "budget 128, wait x2" not in md and "maj@4" in md
    # nothing left to show: no section, and the old chart goes
    _write(base / "scaling.json", {"label": "base", "task": "gsm8k", "points": points[1:2]})
    paths = build_report(tmp_path)
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "Test-time scaling" not in md and "scaling.png" not in paths
    assert not (tmp_path / "report" / "scaling.png").exists()


def test_a_run_without_evaluation_lists_its_stages_and_cost(tmp_path):
    _stage(tmp_path / "generate", "generate", "a",
           {"samples": 4, "problems": 2, "model": "m", "completion_tokens": 40})
    _stage(tmp_path / "score", "score", "b", {}, finished=False)
    md = build_report(tmp_path, prices={"cpu_hour": 0.04})["markdown"].read_text(encoding="utf-8")
    assert "No finished evaluation in this run." in md
    assert "| generate | finished | 4 samples of 2 problems by `m`, 40 tokens |" in md
    assert "| score | **unfinished** |  |" in md
    assert "| **total** |" in md and 'Prices: `{"cpu_hour": 0.04}`.' in md


def test_macro_average_interval():
    avg = macro_average([0.5, 0.7], [0.1, 0.1])
    assert avg["accuracy"] == 0.6 and abs(avg["stderr"] - (0.02 ** 0.5) / 2) < 1e-12
    assert avg["ci95"][0] < 0.6 < avg["ci95"][1]
    assert macro_average([0.2])["ci95"] is None


def test_html_escapes_everything_but_its_own_markup():
    page = markdown_to_html("x<y", "# T <b>\n\n| a | `p|q` |\n|---|---|\n| <script> | [ok](https://e.org) "
                                   "[bad](javascript:alert(1)) |\n\n- **bold** and *it*\n\n~~~\n```\n<i>\n~~~\n")
    assert "<title>x&lt;y</title>" in page and "<h1>T &lt;b&gt;</h1>" in page
    assert "<th><code>p|q</code></th>" in page and "&lt;script&gt;" in page and "<script>" not in page
    assert '<a href="https://e.org">ok</a>' in page and "javascript" in page and 'href="javascript' not in page
    assert "<li><strong>bold</strong> and <em>it</em></li>" in page
    assert "<pre><code>```\n&lt;i&gt;</code></pre>" in page


def _script_json(path: Path, call: str):
    text = path.read_text(encoding="utf-8")
    assert text.startswith(call + "(") and text.rstrip().endswith(");")
    return json.loads("[" + text.strip()[len(call) + 1:-2] + "]")


def test_viewer_data_holds_every_sample_with_its_verdict_and_fate(tmp_path, monkeypatch):
    from report_run import make_run

    from skyt1.report import viewer

    monkeypatch.setattr(viewer, "CHUNK_PROBLEMS", 2)  # numina's 3 problems take two chunks
    run = make_run(tmp_path / "run")
    paths = build_report(run)
    root = paths["viewer"].parent
    assert (root / "assets" / "katex" / "katex.min.js").is_file() and (root / "assets" / "katex" / "LICENSE").is_file()
    (index,) = _script_json(root / "data" / "index.js", "SkyView.index")
    views = {v["key"]: v for v in index["views"]}
    assert set(views) == {"teacher traces", "evaluation: base / aime24", "evaluation: trained / aime24"}
    traces = views["teacher traces"]
    assert (traces["problems"], traces["samples"]) == (5, 15)
    assert [(c["source"], c["n"]) for c in traces["chunks"]] == [("aops", 2), ("numina", 2), ("numina", 1)]
    assert traces["chunks"][0]["fate"] == {"kept": 1, "dropped: incorrect": 2, "dropped: contaminated": 1}
    problems = {}
    for c in traces["chunks"]:
        key, n, rows = _script_json(root / "data" / c["file"], "SkyView.chunk")
        assert key == "teacher traces" and traces["chunks"][n] is c
        problems.update({p["id"]: p for p in rows})
    dup = problems["numina/2"]["samples"][0]
    assert dup["fate"] == "dropped" and dup["why"] == "dedup: duplicate of numina/1" and dup["of"] == "numina/1"
    hit = problems["aops/1"]["samples"][0]
    assert hit["why"] == "decontaminate: contaminated: aime24 item aime24/7 (ngram, overlap 0.92)"
    kept = problems["aops/0"]["samples"][0]
    assert kept["fate"] == "kept" and kept["verdict"] == "correct" and "<|begin_of_thought|>" in kept["text"]
    assert "step by step" in kept["formatted"]  # the rewrite, shown beside the teacher's response
    assert problems["numina/0"]["samples"][2]["why"] == "select: truncated"
    assert problems["aops/0"]["source"] == "aops" and problems["aops/0"]["gold"] == "\\frac{5}{6}"


def test_report_sections_curves_paired_comparison_and_plan(tmp_path):
    from report_run import make_run

    from skyt1.config import load_recipe

    run = make_run(tmp_path / "run")
    paths = build_report(run, recipe=load_recipe("tiny", [f"run_dir={run}"]))
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "| train | 12 | 2 -> 0.5774 |" in md and "0: 125.0, 1: 100.0 |" in md
    assert paths["train_curves.png"].stat().st_size > 0 and "![train_curves.png](train_curves.png)" in md
    # 6 fixed, 1 broke: exact McNemar p = 2 * P(X <= 1 | 7, 1/2) = 16/128
    assert "| aime24 | base -> trained | 30 | 6 | 1 | 9 / 14 | +16.7 pts [" in md and "| 0.125 |" in md
    assert "[aime24/1](viewer/index.html#view=evaluation%3A%20trained%20%2F%20aime24&q=aime24%2F1)" in md
    assert "[aime24/0](viewer/index.html#view=evaluation%3A%20base%20%2F%20aime24&q=aime24%2F0)" in md
    # the plan beside the ledgers: train planned from the run's measured 250 tokens/s, measured 60 GPU s
    line = next(x for x in md.splitlines() if x.startswith("| train | full fine-tuning"))
    assert "| 0.0417 |" in line and "250.0 trained tokens/s on the CPU (measured)" in line
    # the macro interval is Wilson too; over one task, that task's own (30 problems)
    assert "| aime24 | base (`base-model`) | test | 30 | 30 | **33.3%** [19.2%, 51.2%] |" in md
    assert "| base | aime24 | **33.3%** [19.2%, 51.2%] |" in md
    page = paths["html"].read_text(encoding="utf-8")
    assert 'src="viewer/assets/katex/katex.min.js"' in page and "Traces" in md

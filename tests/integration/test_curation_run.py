"""A curation run over bundled sources with planted faults, as CI runs it.

Verdict rows are built as ``score`` writes them (problem fields + ``problem_id``, ``index``,
``response``, ``correct``, ``extracted``, ``reason``, ``finish_reason``, ``usage``) from bundled
sources (GSM8K train, MATH train, the AIME archive, CodeContests), rewritten by the real
``rewrite`` stage (structural), then curated. Planted: an exact and a near duplicate, a MATH-500
and an AIME24 problem reworded slightly, broken rewrites (failed in the rewrite stage, failed
upstream, malformed but marked ok), problems without an answer or tests, an overlong trace,
incorrect and truncated samples. Every planted item must be dropped with its reason, every
clean one kept; the exports must load with ``datasets``, match LLaMA-Factory's schema (its
``dataset_info.json`` parser and ShareGPT converter are mirrored below) and feed TRL's
``SFTTrainer``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from skyt1.config import CurateConfig, RewriteConfig
from skyt1.records import Stage
from skyt1.stages.curate import curate
from skyt1.stages.rewrite import rewrite
from skyt1.tasks import get_task

pytestmark = pytest.mark.integration

TEACHER = "qwq-32b-preview-stand-in"


def _sample(task, p: dict, index: int, response: str, *, correct=True, extracted=None, finish="stop", **over) -> dict:
    row = {k: v for k, v in p.items() if k != "id"}
    row.update(problem_id=p["id"], index=index, model=TEACHER, prompt=task.render(p), response=response,
               finish_reason=finish, usage={"prompt_tokens": 100, "completion_tokens": max(1, len(response) // 4)},
               seconds=0.1, correct=correct, extracted=extracted,
               reason="correct" if correct else ("truncated" if finish == "length" else "wrong_answer"))
    row.update(over)
    return row


def _math_trace(p: dict, words: int = 60) -> str:
    steps = " ".join(f"step{i} of the reasoning about {p['id'].split('/')[-1]}" for i in range(words // 6))
    return f"Let me think about this problem carefully.\n\n{steps}\n\nSo the answer is $\\boxed{{{p['answer']}}}$."


def _code_trace(p: dict) -> str:
    return ("I need to read the input and print the result.\n\nFirst parse the string, then count.\n\n"
            f"```python\nimport sys\ns = sys.stdin.readline().strip()\nprint(len(s))  # {p['id']}\n```")


def _reword_fuzzy(text: str) -> str:
    """A filler word after every 6th word: no 8-word window survives, the words do."""
    out = []
    for i, w in enumerate(text.split()):
        out += [w, "now"] if i % 6 == 5 else [w]
    return " ".join(out)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    tasks = {n: get_task(n) for n in ("gsm8k", "math_train", "aime_historical", "code_contests")}
    gsm = tasks["gsm8k"].problems("train")[:8]
    mtrain = [tasks["math_train"].problems()[i] for i in (0, 10, 20, 30, 40, 50)]
    aime = [tasks["aime_historical"].problems()[i] for i in (100, 300, 400, 500)]
    code = tasks["code_contests"].problems()[:2]
    clean = {p["id"] for p in gsm + mtrain + aime + code}
    rows, planted = [], {}  # planted (problem_id, index) -> (expected reason prefix, step)

    for task_name, problems in (("gsm8k", gsm), ("math_train", mtrain), ("aime_historical", aime)):
        t = tasks[task_name]
        for p in problems:
            rows.append(_sample(t, p, 0, _math_trace(p), extracted=p["answer"]))
            rows.append(_sample(t, p, 1, _math_trace(p, 150), extracted=p["answer"]))  # longer, also correct
    t = tasks["gsm8k"]
    # incorrect and truncated samples: rejected by the policy (and material for preference pairs)
    wrong = _sample(t, gsm[0], 2, "Quick guess: $\\boxed{-1}$.", correct=False, extracted="-1")
    cut = _sample(t, gsm[1], 2, _math_trace(gsm[1])[:80], correct=True, extracted=gsm[1]["answer"], finish="length")
    rows += [wrong, cut]
    planted[(wrong["problem_id"], 2)] = ("incorrect", "select")
    planted[(cut["problem_id"], 2)] = ("truncated", "select")
    for p in code:
        rows.append(
            _sample(
                tasks["code_contests"], p, 0, _code_trace(p), extracted=_code_trace(p).split("```python\n")[1][:-4]
            )
        )

    def plant(problem: dict, reason: str, step: str, task=None, **kw) -> None:
        row = _sample(
            task or t,
            problem,
            kw.pop("index", 0),
            kw.pop("response", None) or _math_trace(problem),
            extracted=kw.pop("extracted", problem.get("answer")),
            **kw,
        )
        rows.append(row)
        planted[(row["problem_id"], row["index"])] = (reason, step)

    # an exact duplicate (whitespace and case), and a near duplicate (one word changed, same numbers)
    dup = {
        **gsm[0],
        "id": "forum/dup-exact",
        "task": "forum",
        "question": "  " + gsm[0]["question"].upper().replace(" ", "   "),
    }
    plant(dup, "duplicate_of", "dedup")
    near_q = mtrain[1]["question"].replace("are on a region", "stand on a region")
    assert near_q != mtrain[1]["question"]
    plant({**mtrain[1], "id": "forum/dup-near", "task": "forum", "question": near_q}, "near_duplicate_of", "dedup")
    # benchmark problems, reworded slightly
    m500 = next(p for p in get_task("math500").problems() if p["id"] == "math500/test/prealgebra/1622.json")
    m500_q = (
        m500["question"]
        .replace("divided into", "split into")
        .replace("one of the triangles", "one of these triangles")
    )
    plant({**m500, "id": "forum/m500", "task": "forum", "question": m500_q}, "contaminated", "decontaminate")
    a24 = next(p for p in get_task("aime24").problems() if p["id"] == "aime24/62")
    plant(
        {**a24, "id": "forum/a24", "task": "forum", "question": _reword_fuzzy(a24["question"])},
        "contaminated",
        "decontaminate",
    )
    # broken rewrites: unformattable in the rewrite stage (no answer anywhere), failed upstream
    # (an LLM rewriter gave up), and malformed text marked ok
    no_box = {**gsm[2]}
    plant(
        no_box, "rewrite_failed", "rewrite", index=5, response="I think about it.\n\nIt is what it is.", extracted=None
    )
    plant(
        gsm[3],
        "rewrite_failed",
        "rewrite",
        index=6,
        formatted=None,
        rewrite="failed: attempt 1: missing <|begin_of_thought|> | attempt 2: solution has 2 \\boxed answers",
    )
    plant(
        gsm[4],
        "rewrite_invalid",
        "rewrite",
        index=7,
        formatted="<|begin_of_thought|>\n\nthinking\n\n<|end_of_thought|>\n\nno solution markers",
        rewrite="ok",
    )
    # problems without gold
    plant(
        {**gsm[5], "id": "forum/no-answer", "task": "forum", "answer": None, "question": "How many apples are left?"},
        "missing_gold",
        "gold",
    )
    plant(
        {
            **code[0],
            "id": "forum/no-tests",
            "task": "forum",
            "tests": {"inputs": [], "outputs": []},
            "question": "Print the sum of two numbers.",
        },
        "missing_gold",
        "gold",
        task=tasks["code_contests"],
        response=_code_trace(code[0]),
        extracted=None,
    )
    # an overlong trace (the length filter below caps the assistant turn at 1,500 tokens)
    plant(gsm[6], "too_long", "length", index=9, response=_math_trace(gsm[6], 1200))

    # the real rewrite stage (structural) formats the traces; rows planted with a rewrite outcome
    # keep it, as if an LLM rewriter had produced it
    preset = {(r["problem_id"], r["index"]): r for r in rows if "rewrite" in r}
    rw = Stage(root / "rewrite", "rewrite", {"mode": "structural"})
    rw.check()
    rewrite([r for r in rows if "rewrite" not in r], rw, RewriteConfig())
    rewritten = rw.records() + list(preset.values())
    cfg = CurateConfig(
        name="planted",
        decontaminate=["math500", "aime24"],
        max_tokens=1500,
        hf_dataset=True,
        system_prompt="sky-t1",
        card={"description": "CI curation run with planted faults"},
    )
    cu = Stage(root / "curate", "curate", cfg.model_dump())
    cu.check()
    summary = curate(rewritten, cu, cfg)
    return {
        "dir": cu.dir,
        "summary": summary,
        "planted": planted,
        "clean": clean,
        "cfg": cfg,
        "kept": cu.records(),
        "dropped": [json.loads(x) for x in (cu.dir / "dropped.jsonl").read_text().splitlines()],
    }


def test_every_planted_item_is_dropped_with_its_reason(run):
    dropped = {(d["problem_id"], d["index"]): d for d in run["dropped"]}
    for key, (reason, step) in run["planted"].items():
        assert key in dropped, f"planted {key} ({reason}) was not dropped"
        d = dropped[key]
        assert d["drop_reason"].split(":")[0] == reason and d["dropped_at"] == step, (
            key,
            d["drop_reason"],
            d["dropped_at"],
        )
    kept_keys = {(r["problem_id"], r["index"]) for r in run["kept"]}
    assert not kept_keys & set(run["planted"])
    # what each removal matched is recorded with it
    assert dropped[("forum/dup-exact", 0)]["drop_reason"] == "duplicate_of:gsm8k/train-0"
    near = dropped[("forum/dup-near", 0)]
    assert near["drop_reason"].startswith("near_duplicate_of:math_train/") and 0.8 <= near["drop_detail"] <= 1
    m500, a24 = dropped[("forum/m500", 0)]["contamination"], dropped[("forum/a24", 0)]["contamination"]
    assert (m500["benchmark"], m500["benchmark_id"], m500["method"]) == (
        "math500",
        "math500/test/prealgebra/1622.json",
        "ngram",
    )
    assert (a24["benchmark"], a24["benchmark_id"], a24["method"]) == ("aime24", "aime24/62", "fuzzy")
    assert "missing <|begin_of_thought|>" in dropped[("gsm8k/train-3", 6)]["drop_reason"]


def test_clean_items_survive_and_the_summary_lists_every_removal(run):
    s, kept = run["summary"], run["kept"]
    assert {r["problem_id"] for r in kept} == run["clean"]
    assert s["kept"] == len(kept) == 2 * 18 + 2 and s["problems"] == len(run["clean"])
    assert all(r["formatted"] and r["rewrite"] == "ok" for r in kept)
    removed = s["removed"]
    assert {(m["problem_id"], m["missing"]) for m in removed["missing_gold"]} == {
        ("forum/no-answer", "answer"),
        ("forum/no-tests", "tests"),
    }
    assert {d["problem_id"]: d["duplicate_of"] for d in removed["duplicates"]}["forum/dup-exact"] == "gsm8k/train-0"
    assert {c["problem_id"]: c["benchmark_id"] for c in removed["contaminated"]} == {
        "forum/m500": "math500/test/prealgebra/1622.json",
        "forum/a24": "aime24/62",
    }
    steps = {st["step"]: st for st in s["steps"]}
    assert [st["step"] for st in s["steps"]] == [
        "gold",
        "select",
        "rewrite",
        "dedup_samples",
        "dedup",
        "decontaminate",
        "length",
    ]
    assert steps["gold"]["dropped"] == {"missing_gold": 2}
    assert steps["rewrite"]["dropped"] == {"rewrite_failed": 2, "rewrite_invalid": 1}
    assert steps["dedup"]["dropped"] == {"duplicate_of": 1, "near_duplicate_of": 1}
    assert steps["decontaminate"]["dropped"] == {"contaminated": 2} and steps["length"]["dropped"] == {"too_long": 1}
    for st in s["steps"]:  # the counts add up at every step
        assert st["in"] == st["kept"] + sum(st["dropped"].values())
    assert s["input"] == steps["gold"]["in"] == len(run["kept"]) + len(run["dropped"])
    png = Path(s["histograms"]["token_lengths"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert s["tokens"]["kept"]["max"] <= 1500


def _llamafactory_attr(entry: dict) -> dict:
    """LLaMA-Factory's ``DatasetAttr`` for a local file entry (``data/parser.py``): defaults,
    then ``columns`` and (sharegpt) ``tags`` read with ``obj.get(key)``, so an unset tag is None."""
    attr = {
        "formatting": entry.get("formatting", "alpaca"),
        "ranking": entry.get("ranking", False),
        "messages": "conversations",
        "system": None,
        "chosen": None,
        "rejected": None,
    }
    for col in ("system", "chosen", "rejected", "messages"):
        attr[col] = entry.get("columns", {}).get(col)
    for tag in (
        "role_tag",
        "content_tag",
        "user_tag",
        "assistant_tag",
        "observation_tag",
        "function_tag",
        "system_tag",
    ):
        attr[tag] = entry["tags"].get(tag)
    return attr


def _llamafactory_convert(example: dict, a: dict) -> dict:
    """LLaMA-Factory's ``SharegptDatasetConverter`` (``data/converter.py``), its checks included."""
    odd, even = (a["user_tag"], a["observation_tag"]), (a["assistant_tag"], a["function_tag"])
    messages = example[a["messages"]]
    role = {a["user_tag"]: "user", a["assistant_tag"]: "assistant"}
    aligned = []
    for i, m in enumerate(messages):
        assert m[a["role_tag"]] in (odd, even)[i % 2], f"invalid role tag in {messages}"
        aligned.append({"role": role[m[a["role_tag"]]], "content": m[a["content_tag"]]})
    if a["ranking"]:
        assert len(aligned) % 2 == 1, "invalid message count"
        for side in ("chosen", "rejected"):
            assert example[a[side]][a["role_tag"]] in even
        return {"_prompt": aligned, "_response": [example[a["chosen"]], example[a["rejected"]]]}
    assert len(aligned) % 2 == 0, "invalid message count"
    return {"_prompt": aligned[:-1], "_response": aligned[-1:], "_system": example[a["system"]] if a["system"] else ""}


def test_sharegpt_and_dataset_info_load_and_match_llamafactory(run):
    from datasets import load_dataset

    d, name = run["dir"], run["cfg"].name
    info = json.loads((d / "dataset_info.json").read_text())
    assert set(info) == {name, f"{name}_preference"}
    sft = info[name]
    assert sft["file_name"] == f"{name}_sharegpt.json" and sft["formatting"] == "sharegpt"
    ds = load_dataset("json", data_files=str(d / sft["file_name"]), split="train")
    assert len(ds) == run["summary"]["kept"] and set(ds.column_names) == {"system", "conversations"}
    attr = _llamafactory_attr(sft)
    for ex in ds:
        out = _llamafactory_convert(ex, attr)
        assert out["_system"].startswith("Your role as an assistant") and out["_prompt"][0]["role"] == "user"
        assert out["_response"][0]["content"].startswith("<|begin_of_thought|>")
    pref = info[f"{name}_preference"]
    assert pref["ranking"] is True
    pds = load_dataset("json", data_files=str(d / pref["file_name"]), split="train")
    assert len(pds) == run["summary"]["preference_pairs"]["n"] > 0
    pattr = _llamafactory_attr(pref)
    for ex in pds:
        _llamafactory_convert(ex, pattr)


def test_messages_file_feeds_trl_sft_trainer(run, embedded_path, tmp_path):
    import torch
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.set_num_threads(1)
    data = load_dataset("json", data_files=str(run["dir"] / "planted_messages.jsonl"), split="train")
    assert data.column_names == ["messages"] and [m["role"] for m in data[0]["messages"]] == [
        "system",
        "user",
        "assistant",
    ]
    tok = AutoTokenizer.from_pretrained(embedded_path)
    model = AutoModelForCausalLM.from_pretrained(embedded_path, dtype=torch.float32)
    args = SFTConfig(
        output_dir=str(tmp_path / "sft"),
        max_steps=1,
        per_device_train_batch_size=2,
        max_length=256,
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
        save_strategy="no",
        assistant_only_loss=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok)
    assert len(trainer.train_dataset) == len(data) and "input_ids" in trainer.train_dataset.column_names
    first = tok.decode(trainer.train_dataset[0]["input_ids"])
    assert "<|begin_of_thought|>" in first
    result = trainer.train()
    assert result.global_step == 1 and result.training_loss > 0


def test_preference_pairs_are_trl_conversational(run, embedded_path):
    from datasets import load_dataset
    from transformers import AutoTokenizer
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    pairs = load_dataset("json", data_files=str(run["dir"] / "planted_preference.jsonl"), split="train")
    assert {"prompt", "chosen", "rejected"} <= set(pairs.column_names)
    kinds = set(pairs["kind"])
    assert kinds == {"shortest_vs_longest_correct", "longer_correct_vs_short_incorrect"}
    planted = {pid for pid, _ in run["planted"]} - run["clean"]
    assert not set(pairs["problem_id"]) & planted  # no pairs on duplicate, contaminated or gold-less problems
    tok = AutoTokenizer.from_pretrained(embedded_path)
    ex = pairs[0]
    assert is_conversational(ex)
    text = maybe_apply_chat_template(ex, tok)
    assert set(text) >= {"prompt", "chosen", "rejected"} and text["chosen"] != text["rejected"]


def test_hf_dataset_and_card(run):
    from datasets import load_from_disk

    path = Path(run["summary"]["exports"]["hf_dataset"])
    ds = load_from_disk(str(path))
    assert len(ds) == run["summary"]["kept"] and {"messages", "problem_id", "task", "teacher"} <= set(ds.column_names)
    card = (path / "README.md").read_text()
    for section in ("## Sources", "## Counts", "## Filters", "## Teacher", "## Rewriter", "## Cost"):
        assert section in card, section
    assert TEACHER in card and "structural" in card and "gsm8k" in card and "CI curation run" in card
    assert "decontaminate" in card and "rewrite" in card  # the cost table names the stages it sums


def test_token_counter_with_the_embedded_tokenizer():
    from skyt1.curation.stats import TokenCounter

    counter = TokenCounter("embedded")
    text = "<|begin_of_thought|>\n\nLet me think: 3 + 4 = 7.\n\n<|end_of_thought|>"
    n = counter.count([text, ""])
    assert 10 < n[0] < len(text) and n[1] == 0 and counter.name == "tokenizer: embedded"

"""skyt1.curation.export: LLaMA-Factory ShareGPT, TRL messages and the HF dataset with a card."""

import json

import pytest

from skyt1.curation.export import (
    save_hf_dataset,
    to_messages,
    to_sharegpt,
    write_exports,
)

SYSTEM = "Your role as an assistant involves thoroughly exploring questions..."


def rows():
    return [
        {
            "problem_id": "p/1",
            "question": "What is 1 + 1?",
            "response": "<|begin_of_thought|>...2",
            "answer": "2",
            "meta": {"level": 1},
        },
        {"problem_id": "p/2", "question": "Say ü.", "response": "ü", "answer": 3, "meta": {"src": "x", "n": [1]}},
    ]


def test_record_shapes():
    r = rows()[0]
    assert to_sharegpt(r, SYSTEM) == {
        "system": SYSTEM,
        "conversations": [{"from": "user", "value": r["question"]}, {"from": "assistant", "value": r["response"]}],
    }
    assert [m["role"] for m in to_messages(r, SYSTEM)["messages"]] == ["system", "user", "assistant"]
    assert [m["role"] for m in to_messages(r, "")["messages"]] == ["user", "assistant"]


def test_write_exports_load_with_datasets(tmp_path):
    import datasets

    (tmp_path / "dataset_info.json").write_text(json.dumps({"other": {"file_name": "o.json"}}))
    paths = write_exports(rows(), tmp_path, "skyt1_sft", SYSTEM)
    assert set(paths) == {"sharegpt", "dataset_info", "messages"}
    info = json.loads(paths["dataset_info"].read_text())
    assert info["other"] == {"file_name": "o.json"}  # existing entries are kept
    entry = info["skyt1_sft"]
    assert entry["file_name"] == "skyt1_sft_sharegpt.json" and entry["formatting"] == "sharegpt"
    assert entry["columns"] == {"messages": "conversations", "system": "system"}
    assert entry["tags"] == {
        "role_tag": "from",
        "content_tag": "value",
        "user_tag": "user",
        "assistant_tag": "assistant",
    }
    assert isinstance(json.loads(paths["sharegpt"].read_text(encoding="utf-8")), list)

    cache = str(tmp_path / "cache")
    sg = datasets.load_dataset("json", data_files=str(tmp_path / entry["file_name"]), split="train", cache_dir=cache)
    assert len(sg) == 2 and sg[1]["conversations"][1]["value"] == "ü"
    # LLaMA-Factory's sharegpt rule: user turns at odd positions, assistant at even ones
    for ex in sg:
        tags = [t[entry["tags"]["role_tag"]] for t in ex[entry["columns"]["messages"]]]
        assert tags == [entry["tags"]["user_tag"], entry["tags"]["assistant_tag"]]
        assert ex[entry["columns"]["system"]] == SYSTEM

    msgs = datasets.load_dataset("json", data_files=str(paths["messages"]), split="train", cache_dir=cache)
    for ex in msgs:
        roles = [m["role"] for m in ex["messages"]]
        assert roles == ["system", "user", "assistant"]
        assert all(isinstance(m["content"], str) and m["content"] for m in ex["messages"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_messages_fit_trl_and_a_chat_template(tmp_path):
    import datasets
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from trl.data_utils import is_conversational

    paths = write_exports(rows(), tmp_path, "sft", SYSTEM)
    ds = datasets.load_dataset("json", data_files=str(paths["messages"]), split="train", cache_dir=str(tmp_path / "c"))
    assert all(is_conversational(ex) for ex in ds)
    # a stand-in tokenizer with a ChatML template (the embedded model's is checked by the stage)
    tok = Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")
    hf_tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    )
    text = hf_tok.apply_chat_template(ds[0]["messages"], tokenize=False)
    assert text.startswith("<|im_start|>system\n" + SYSTEM) and "<|im_start|>assistant\n" in text


def test_save_hf_dataset_with_card(tmp_path):
    import datasets

    card = {
        "name": "skyt1-tiny",
        "sources": {"arithmetic": 2},
        "counts": {"generated": 8, "correct": 5, "kept": 2},
        "filters": ["correct", "dedup_exact", "decontaminate: math500"],
        "teacher": "SmolLM2-135M-Instruct",
        "rewriter": "structural",
        "cost": {"usd": 0.0, "gpu_hours": 0},
    }
    out = save_hf_dataset(rows(), tmp_path / "hf", card)
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 2 and ds[1]["answer"] == 3 and ds[1]["meta"] == {"src": "x", "n": [1]}
    readme = (out / "README.md").read_text()
    for text in (
        "# skyt1-tiny",
        "## Sources",
        "| arithmetic | 2 |",
        "## Filters",
        "- dedup_exact",
        "## Teacher",
        "SmolLM2-135M-Instruct",
        "## Rewriter",
        "## Cost",
        "## Counts",
    ):
        assert text in readme
    save_hf_dataset(rows()[:1], out, card)  # replaces a saved dataset
    assert len(datasets.load_from_disk(str(out))) == 1
    write_exports(rows(), tmp_path / "exports", "sft", SYSTEM)
    with pytest.raises(ValueError, match="refusing"):
        save_hf_dataset(rows(), tmp_path / "exports", card)


def test_save_hf_dataset_streamed_from_a_generator(tmp_path):
    import datasets

    from skyt1.curation.card import hf_features, provenance

    def gen():
        for r in rows():
            yield {**to_messages(r, SYSTEM), **provenance(r)}

    out = save_hf_dataset(gen, tmp_path / "hf", {"name": "x"}, features=hf_features())
    ds = datasets.load_from_disk(str(out))
    assert len(ds) == 2 and ds[1]["answer"] == "3" and ds[1]["messages"][2]["content"] == "ü"
    assert ds[0]["difficulty"] is None and "# x" in (out / "README.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]  # no cache or temporary left
    save_hf_dataset(gen, out, {"name": "x"}, features=hf_features())  # replaces a saved dataset
    assert len(datasets.load_from_disk(str(out))) == 2


def test_save_hf_dataset_streamed_keeps_order_across_shards_and_saves_empty(tmp_path, monkeypatch):
    """The streamed save moves the generator's Arrow shards into place: several shards load back as
    one dataset in row order, with its features; no rows give an empty dataset, not an error."""
    import datasets

    from skyt1.curation.card import hf_features

    def gen(n):
        def rows():
            for i in range(n):
                yield {"messages": [{"role": "user", "content": f"q{i} " * 50}], "problem_id": str(i), "task": "t",
                       "domain": "math", "answer": str(i), "teacher": "m", "difficulty": None, "n_tokens": i}
        return rows

    monkeypatch.setattr(datasets.config, "MAX_SHARD_SIZE", 20_000)  # bytes: about 60 rows a shard,
    monkeypatch.setattr(datasets.config, "DEFAULT_MAX_BATCH_SIZE", 10)  # checked every 10 rows
    out = save_hf_dataset(gen(300), tmp_path / "hf", {"name": "x"}, features=hf_features())
    assert len(list(out.glob("data-*.arrow"))) > 1
    ds = datasets.load_from_disk(str(out))
    assert [r["problem_id"] for r in ds] == [str(i) for i in range(300)] and ds.features == hf_features()
    empty = save_hf_dataset(gen(0), tmp_path / "empty", {"name": "x"}, features=hf_features())
    assert len(datasets.load_from_disk(str(empty))) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "hf"]

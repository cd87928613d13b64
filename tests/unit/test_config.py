import pytest

from skyt1.config import ConfigError, load_recipe, shipped_recipes, system_prompt_text


@pytest.mark.parametrize("name", sorted(shipped_recipes()))
def test_every_shipped_recipe_loads(name):
    recipe = load_recipe(name)
    assert recipe.name == name
    text = shipped_recipes()[name].read_text()
    assert text.startswith("#") and "skyt1 " in text.split("\n\n")[0]  # opens with what it does and the command


def test_unknown_key_names_key_and_file(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("name: x\ntrain:\n  epochz: 3\n")
    with pytest.raises(ConfigError) as e:
        load_recipe(p)
    assert "unknown key 'train.epochz'" in str(e.value) and str(p) in str(e.value)


def test_overrides_beat_yaml_and_are_typed():
    r = load_recipe("tiny", ["train.epochs=1", "generate.sampling.n=2", "evaluate.tasks=[arithmetic, gsm8k]"])
    assert r.train.epochs == 1 and r.generate.sampling.n == 2 and r.evaluate.tasks == ["arithmetic", "gsm8k"]
    with pytest.raises(ConfigError, match="unknown key 'train.nope'"):
        load_recipe("tiny", ["train.nope=1"])
    with pytest.raises(ConfigError, match="'generate.sampling.n'"):
        load_recipe("tiny", ["generate.sampling.n=zero"])


def test_sky_t1_system_prompt_is_verbatim():
    text = system_prompt_text("sky-t1")
    assert "analisying" in text and text.count("\n") >= 2 and len(text) >= 1300
    assert system_prompt_text("none") is None and system_prompt_text("Be brief.") == "Be brief."


def test_generate_reads_a_mapped_source_instead_of_a_task(tmp_path):
    from skyt1.stages.generate import load_mixture

    data = tmp_path / "mine.jsonl"
    data.write_text('{"q": "What is 3 + 4?", "final": "7"}\n{"q": "What is 2 * 5?", "final": "10"}\n'
                    '{"q": "no gold"}\n')
    r = load_recipe("tiny", [f"generate.source={{path: {data}, fields: {{question: q, answer: final}}}}"])
    problems, prompts = load_mixture(r.generate)
    assert {(p["source"], p["verifier"]) for p in problems} == {("mine", "math")}
    # the row with no answer is skipped
    assert [p["question"] for p in problems] == ["What is 3 + 4?", "What is 2 * 5?"]
    assert all(p["id"].startswith("mine/") and p["answer"] for p in problems)

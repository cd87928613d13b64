"""The bundled ``qwen25`` chat template renders what LLaMA-Factory's ``qwen25`` template produces.

Expected strings are written out from the template's definition in SkyThought's LLaMA-Factory
fork (NovaSky-AI/SkyThought skythought/train/LLaMA-Factory/src/llamafactory/data/template.py,
the version Sky-T1 trained with):

    _register_template(
        name="qwen25",
        format_user=StringFormatter(slots=["<|im_start|>user\\n{{content}}<|im_end|>\\n<|im_start|>assistant\\n"]),
        format_system=StringFormatter(slots=["<|im_start|>system\\n{{content}}<|im_end|>\\n"]),
        format_observation=...,
        format_separator=EmptyFormatter(slots=["\\n"]),
        default_system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
        stop_words=["<|endoftext|>"],
        replace_eos=True,
        replace_jinja_template=False,
    )

with the default assistant formatter ``["{{content}}", {"eos_token"}]`` and ``replace_eos``
making the EOS ``stop_words[0]``; ``Template._encode`` puts prefix + system before the first
turn and the separator before every later user turn (``i > 0 and i % 2 == 0``).
The rendering is checked on the embedded SmolLM2 tokenizer (ChatML tokens, as Qwen2.5's).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from skyt1.chat_templates import chat_template_text, use_chat_template
from skyt1.config import ConfigError, load_recipe

TOKENIZER = Path.home() / ".cache/skyt1/models/smollm2-135m-instruct"
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
CONVERSATION = [
    {"role": "system", "content": "Think step by step."},
    {"role": "user", "content": "What is 2 + 3?"},
    {"role": "assistant", "content": "<|begin_of_thought|>2 + 3 = 5<|end_of_thought|> \\boxed{5}"},
]
# format_system(system) + format_user(user) | format_assistant(assistant) = content + EOS (<|endoftext|>)
EXPECTED = (
    "<|im_start|>system\nThink step by step.<|im_end|>\n"
    "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    "<|begin_of_thought|>2 + 3 = 5<|end_of_thought|> \\boxed{5}<|endoftext|>"
)


@pytest.fixture(scope="module")
def tok():
    if not TOKENIZER.is_dir():
        pytest.skip(f"the embedded model is not at {TOKENIZER} (make setup)")
    from transformers import AutoTokenizer

    return use_chat_template(AutoTokenizer.from_pretrained(TOKENIZER), "qwen25")


def _render(tok, messages, **kw) -> str:
    return tok.apply_chat_template(messages, tokenize=False, **kw)


def test_system_user_assistant_renders_as_llama_factory(tok):
    assert _render(tok, CONVERSATION) == EXPECTED


def test_without_a_system_turn_the_default_system_is_qwens(tok):
    assert _render(tok, CONVERSATION[1:]) == EXPECTED.replace("Think step by step.", QWEN_SYSTEM)
    # system = system or default_system: an empty system turn gets the default too
    assert _render(tok, [{"role": "system", "content": ""}, *CONVERSATION[1:]]) == _render(tok, CONVERSATION[1:])


def test_later_turns_start_with_the_separator(tok):
    two = CONVERSATION + [{"role": "user", "content": "And 3 + 4?"}, {"role": "assistant", "content": "7"}]
    second = "\n<|im_start|>user\nAnd 3 + 4?<|im_end|>\n<|im_start|>assistant\n7<|endoftext|>"
    assert _render(tok, two) == EXPECTED + second


def test_the_prompt_is_a_prefix_ending_with_the_assistant_header(tok):
    """What TRL's prompt-completion tokenisation relies on: the prompt rendered alone (with or
    without a generation prompt) is where the completion starts."""
    for gen in (True, False):
        prompt = _render(tok, CONVERSATION[:2], add_generation_prompt=gen)
        assert EXPECTED.startswith(prompt) and prompt.endswith("<|im_start|>assistant\n")
        assert EXPECTED[len(prompt):] == CONVERSATION[2]["content"] + "<|endoftext|>"


def test_token_ids_match_llama_factorys_element_wise_encoding(tok):
    """Template._convert_elements_to_ids encodes each slot string without special tokens and the
    EOS slot as its id; tokenising the rendered text gives the same ids."""
    system, user, answer = (m["content"] for m in CONVERSATION)
    encode = lambda text: tok.encode(text, add_special_tokens=False)
    prompt_ids = encode(f"<|im_start|>system\n{system}<|im_end|>\n") + encode(
        f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
    answer_ids = encode(answer) + [tok.convert_tokens_to_ids("<|endoftext|>")]
    assert tok.apply_chat_template(CONVERSATION, tokenize=True)["input_ids"] == prompt_ids + answer_ids


def test_the_end_of_turn_token_becomes_endoftext(tok):
    from skyt1.stages.trainer import end_of_turn_token

    assert end_of_turn_token(tok) == "<|endoftext|>"


def test_other_roles_are_refused(tok):
    with pytest.raises(Exception, match="not tool"):
        _render(tok, [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}])


def test_the_option_is_validated_and_defaults_to_the_tokenizers_template():
    assert chat_template_text("tokenizer") is None and "<|endoftext|>" in chat_template_text("qwen25")
    assert load_recipe("tiny").train.chat_template == "tokenizer"
    assert load_recipe("sky-t1-32b-preview").train.chat_template == "qwen25"
    assert load_recipe("sky-t1-32b-flash").preference.chat_template == "qwen25"
    with pytest.raises(ConfigError, match=r"'train.chat_template'.*unknown chat template 'qwen3'.*qwen25"):
        load_recipe("tiny", ["train.chat_template=qwen3"])

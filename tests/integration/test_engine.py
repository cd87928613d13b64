"""The continuous-batching engine against Hugging Face ``generate``, on real and tiny random models."""

import pytest
import torch

from skyt1.backends.base import Request, SamplingParams
from skyt1.backends.engine import Engine, unsupported_reason
from skyt1.backends.transformers import TransformersBackend

pytestmark = pytest.mark.integration

QUESTIONS = ["What is 2 + 2?", "Name a color.", "What is 7 * 8? Think step by step, then answer.",
             "Hi", "Write one word.", "What is 9 - 3?", "Count from one to five."]


def _hf_greedy(lm, prompt: list[int], max_tokens: int, eos: int) -> list[int]:
    with torch.inference_mode():
        out = lm.generate(torch.tensor([prompt]), max_new_tokens=max_tokens, do_sample=False, temperature=None,
                          top_p=None, top_k=None, pad_token_id=eos)
    ids = out[0, len(prompt):].tolist()
    return ids[: ids.index(eos) + 1] if eos in ids else ids


def _prompts(tokenizer) -> list[list[int]]:
    return [tokenizer.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                          tokenize=False) for q in QUESTIONS]


def _random_model(arch: str, embedded_path):
    """A random tiny model of ``arch`` with the embedded model's tokenizer."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(embedded_path)
    torch.manual_seed(0)
    cfg = AutoConfig.for_model(arch, vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                               num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=512,
                               tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return AutoModelForCausalLM.from_config(cfg).eval(), tok


@pytest.mark.parametrize("arch", ["llama", "qwen2", "qwen3"])
def test_greedy_matches_hf_generate_with_refills_and_a_shared_prefix(arch, embedded_path):
    lm, tok = _random_model(arch, embedded_path)
    prompts = [tok(t, add_special_tokens=False).input_ids for t in _prompts(tok)]
    engine = Engine(lm, {tok.eos_token_id}, slots=3, pad_id=tok.pad_token_id)  # 7 prompts through 3 slots
    got = {i: ids for i, ids, _, _ in engine.run(prompts, [0] * 7, max_tokens=12, temperature=0, top_p=1)}
    assert sorted(got) == list(range(7))
    for i, prompt in enumerate(prompts):
        assert got[i] == _hf_greedy(lm, prompt, 12, tok.eos_token_id), (arch, i)


def test_embedded_model_greedy_matches_hf_generate(embedded_path):
    hf = TransformersBackend(str(embedded_path), batch_size=1, threads=1, continuous_batching=False)
    fast = TransformersBackend(str(embedded_path), batch_size=3, threads=1)
    assert hf.engine is None and fast.engine is not None  # on CPU the engine is the default
    reqs = [Request(key=(q, 0), messages=[{"role": "user", "content": q}]) for q in QUESTIONS]
    params = SamplingParams(temperature=0.0, max_tokens=20)
    expected = {r.key: (c.text, c.finish_reason, c.completion_tokens) for r, c in hf.generate(reqs, params)}
    got = {r.key: (c.text, c.finish_reason, c.completion_tokens) for r, c in fast.generate(reqs, params)}
    assert got == expected


def test_a_sample_depends_on_its_seed_not_on_its_batch(embedded):
    """Up to float rounding, which a trained model's peaked distributions do not feel (a random
    model's flat ones would)."""
    tok = embedded.tokenizer
    prompts = [tok(t, add_special_tokens=False).input_ids for t in _prompts(tok)]

    def run(slots, seeds):
        engine = Engine(embedded.lm, embedded.eos_ids, slots=slots, pad_id=tok.pad_token_id)
        return {i: ids for i, ids, _, _ in engine.run(prompts, seeds, max_tokens=16, temperature=1.0, top_p=0.9)}

    seeds = list(range(100, 107))
    together = run(7, seeds)
    assert together == run(2, seeds)
    other = run(7, [s + 1 for s in seeds])
    assert sum(other[i] != together[i] for i in range(7)) >= 4


def test_the_context_limit_ends_a_sample_as_length_and_a_prompt_too_long_is_refused(embedded_path):
    lm, tok = _random_model("llama", embedded_path)
    lm.config.max_position_embeddings = 40
    engine = Engine(lm, set(), slots=2)
    [(_, ids, at_limit, seconds)] = list(engine.run([[5] * 30], [0], max_tokens=25, temperature=0, top_p=1))
    assert len(ids) == 10 and at_limit and seconds > 0
    with pytest.raises(ValueError, match="41 tokens .* context of 40"):
        list(engine.run([[5] * 41], [0], max_tokens=5, temperature=0, top_p=1))
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        list(engine.run([[5], []], [0, 0], max_tokens=5, temperature=0, top_p=1))


def test_stop_strings_end_and_are_cut_on_the_engine(embedded):
    assert embedded.engine is not None
    params = SamplingParams(temperature=0.0, max_tokens=40, stop=(" the",))
    reqs = [Request(key=("s", 0), messages=[{"role": "user", "content": "Write a long sentence about the sea."}])]
    [(_, c)] = list(embedded.generate(reqs, params))
    assert " the" not in c.text and c.finish_reason == "stop" and c.completion_tokens < 40


def test_unsupported_models_are_named():
    from transformers import GPT2Config, Qwen2Config

    assert "gpt2" in unsupported_reason(GPT2Config())
    assert "sliding" in unsupported_reason(Qwen2Config(use_sliding_window=True))
    assert unsupported_reason(Qwen2Config()) is None


def test_the_cache_grows_past_its_first_width(embedded_path):
    lm, tok = _random_model("llama", embedded_path)
    prompts = [tok(t, add_special_tokens=False).input_ids for t in _prompts(tok)[:2]]
    engine = Engine(lm, set(), slots=2)  # no end-of-turn: every sequence runs the full 300 tokens
    got = {i: ids for i, ids, _, _ in engine.run(prompts, [0] * 2, max_tokens=300, temperature=0, top_p=1)}
    assert engine.cache[0][0].shape[2] > max(map(len, prompts)) + 256  # it grew
    for i, prompt in enumerate(prompts):
        assert got[i] == _hf_greedy(lm, prompt, 300, -1), i

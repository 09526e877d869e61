"""The vLLM backend's pieces that need no engine: its GPU options and how a reading is read."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from training_worker.guard.backends import vllm_backend
from training_worker.guard.backends.base import BackendError
from training_worker.guard.backends.vllm_backend import PromptReading


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    # The options set process-wide variables for the engine: keep them to this test.
    monkeypatch.setattr(os, "environ", {**os.environ})
    for name in ("VLLM_WORKER_MULTIPROC_METHOD", "GUARD_VLLM_GPU_MEMORY"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_on_a_gpu_the_engine_process_is_spawned(environ: pytest.MonkeyPatch) -> None:
    options = vllm_backend._configure_gpu_environment()
    assert os.environ["VLLM_WORKER_MULTIPROC_METHOD"] == "spawn"
    assert options == {"gpu_memory_utilization": 0.45}


def test_an_operators_start_method_and_memory_share_are_kept(environ: pytest.MonkeyPatch) -> None:
    environ.setenv("VLLM_WORKER_MULTIPROC_METHOD", "fork")
    environ.setenv("GUARD_VLLM_GPU_MEMORY", "0.8")
    assert vllm_backend._configure_gpu_environment() == {"gpu_memory_utilization": 0.8}
    assert os.environ["VLLM_WORKER_MULTIPROC_METHOD"] == "fork"


@pytest.mark.parametrize("share", ["0", "1.5", "half"])
def test_it_rejects_a_gpu_memory_share_outside_zero_to_one(environ: pytest.MonkeyPatch, share: str) -> None:
    environ.setenv("GUARD_VLLM_GPU_MEMORY", share)
    with pytest.raises(BackendError, match="GUARD_VLLM_GPU_MEMORY"):
        vllm_backend._configure_gpu_environment()


def _row(**logprobs: float) -> dict[int, SimpleNamespace]:
    return {int(token[1:]): SimpleNamespace(logprob=value) for token, value in logprobs.items()}


PROMPT = (1, 2, 3, 4)


def test_a_reading_gives_a_computed_row_of_its_prompt() -> None:
    rows = [None, _row(t2=-0.1), _row(t3=-0.2), _row(t4=-0.3)]
    reading = PromptReading(prompt=PROMPT, rows=rows, cached=1, after=_row(t5=-0.4))
    assert reading.logprob((1, 2, 3), 4) == -0.3
    assert reading.logprob(PROMPT, 5) == -0.4
    # Row 1 is computed from position 0, which came from the cache: it holds no value.
    assert reading.logprob((1,), 2) is None


def test_a_reading_with_rows_for_the_computed_positions_only_is_not_read() -> None:
    # The CUDA vLLM 0.26 on an H100 returned fewer rows than the prompt had tokens; which position
    # each row belongs to is then unknown, so the value is asked for another way.
    reading = PromptReading(prompt=PROMPT, rows=[None, _row(t4=-0.3)], cached=2, after=_row(t5=-0.4))
    assert reading.logprob((1, 2, 3), 4) is None
    assert reading.logprob(PROMPT, 5) == -0.4

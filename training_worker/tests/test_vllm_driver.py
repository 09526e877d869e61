"""The engine driver's error handling, on a fake engine: what is tested is the driver, not vLLM
(test_vllm_backend.py runs the real engine, and kills its process)."""

from __future__ import annotations

from typing import Any

import pytest

from training_worker.guard.backends.base import BackendDead
from training_worker.guard.backends.vllm_driver import EngineDriver


class FakeEngineStopped(Exception):
    """Stands for vLLM's EngineDeadError."""


class FakeLlm:
    """A fake `vllm.LLM`: each prompt finishes at the next step, unless the test set `raise_on_step`."""

    def __init__(self) -> None:
        self.llm_engine = self
        self.raise_on_step: Exception | None = None
        self._pending: list[str] = []
        self._next = 0

    def enqueue(self, prompts: list[Any], params: Any, use_tqdm: bool = False) -> list[str]:
        ids = [f"{self._next + i}-abc" for i in range(len(prompts))]
        self._next += len(prompts)
        self._pending += ids
        return ids

    def step(self) -> list[Any]:
        if self.raise_on_step is not None:
            raise self.raise_on_step
        done, self._pending = self._pending, []
        return [_Output(request_id.split("-")[0]) for request_id in done]

    def abort_request(self, ids: list[str], internal: bool = False) -> None:
        self._pending = []


class _Output:
    finished = True

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id


def test_a_stopped_engine_fails_its_callers_and_every_later_one_as_dead() -> None:
    llm = FakeLlm()
    driver = EngineDriver(llm, fatal=(FakeEngineStopped,))
    assert len(driver.run(["a", "b"], None, timeout=5)) == 2
    assert driver.failure is None
    llm.raise_on_step = FakeEngineStopped("engine core exited")
    with pytest.raises(BackendDead, match=r"engine process stopped .*engine core exited") as caught:
        driver.run(["c"], None, timeout=5)
    assert isinstance(caught.value.__cause__, FakeEngineStopped)
    assert driver.failure is not None
    with pytest.raises(BackendDead):  # refused at once: the engine will never answer again
        driver.run(["d"], None, timeout=5)
    driver.close(timeout=5)


def test_an_error_that_is_not_fatal_fails_its_callers_and_the_engine_goes_on() -> None:
    llm = FakeLlm()
    driver = EngineDriver(llm, fatal=(FakeEngineStopped,))
    llm.raise_on_step = ValueError("one bad step")
    with pytest.raises(ValueError, match="one bad step"):
        driver.run(["a"], None, timeout=5)
    llm.raise_on_step = None
    assert len(driver.run(["b"], None, timeout=5)) == 1
    assert driver.failure is None
    driver.close(timeout=5)

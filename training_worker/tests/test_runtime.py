from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from policies_app.services import DEFAULT_POLICY_PATH, policy_ensure_default
from policies_app.spec import parse_policy
from training_worker.guard.backends.base import BackendDead
from training_worker.guard.batcher import Arrivals, MicroBatcher
from training_worker.guard.runtime import GuardRuntime, GuardUnavailable
from training_worker.guard.template import Message
from training_worker.guard.types import GuardRequest
from training_worker.services import model_version_activate, model_version_register

SPEC = dataclasses.asdict(parse_policy(DEFAULT_POLICY_PATH.read_text()))
REQUEST = GuardRequest(spec=SPEC, messages=(Message("user", "hello"),), target="prompt", reasoning="none")


def _runtime(*, warmup_policies: int = 0) -> GuardRuntime:
    return GuardRuntime(
        backend="transformers",
        max_batch=4,
        max_wait_ms=5,
        max_think_tokens=4,
        check_interval_s=0,
        warmup_policies=warmup_policies,
    )


def _cached_prefixes(runtime: GuardRuntime) -> list[str]:
    loaded = runtime.current()
    return list(loaded.guard.backend._prefixes)  # type: ignore[attr-defined]


def _prefix_of(runtime: GuardRuntime, spec: object) -> str:
    guard = runtime.current().guard
    request = GuardRequest(spec=spec, messages=(Message("user", "x"),), target="prompt")  # type: ignore[arg-type]
    return guard.shared_prefix(guard.prompt(request))


@pytest.mark.django_db
def test_it_caches_each_published_policy_prefix_while_it_still_reports_loading(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy, _ = policy_ensure_default()
    runtime = _runtime(warmup_policies=8)
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))
    during: list[object] = []
    warm_up = runtime._warm_up

    def watched(guard: object) -> None:
        warm_up(guard)  # type: ignore[arg-type]
        during.append(runtime.status()["loading_model"])

    monkeypatch.setattr(runtime, "_warm_up", watched)

    assert _cached_prefixes(runtime) == [_prefix_of(runtime, policy.published_version.spec)]  # type: ignore[union-attr]
    assert during == ["a"]


@pytest.mark.django_db
def test_without_warm_up_no_prefix_is_computed_at_load(tiny_model_dir: Path) -> None:
    policy_ensure_default()
    runtime = _runtime(warmup_policies=0)
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))

    assert _cached_prefixes(runtime) == []


@pytest.mark.django_db
def test_a_failed_warm_up_still_loads_the_model(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from training_worker.guard.engine import Guard

    policy_ensure_default()
    runtime = _runtime(warmup_policies=8)
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))

    judge, calls = Guard.judge, []

    def fails_once(self: Guard, requests: Sequence[GuardRequest]) -> object:
        calls.append(requests)
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return judge(self, requests)

    monkeypatch.setattr(Guard, "judge", fails_once)
    runtime.current()

    assert "guard warm-up failed; the first calls may be slower: out of memory" in caplog.text
    assert runtime.status()["loaded_model"] == "a"
    assert runtime.judge(REQUEST)[0].error is None


@pytest.mark.django_db
def test_it_switches_to_a_newly_activated_model_without_a_restart(
    tiny_model_dir: Path, other_tiny_model_dir: Path
) -> None:
    runtime = _runtime()
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))
    first, used = runtime.judge(REQUEST)
    assert used.name == "a"
    model_version_activate(model_version=model_version_register(name="b", base="tiny", path=str(other_tiny_model_dir)))
    second, used = runtime.judge(REQUEST)
    assert used.name == "b"
    assert runtime.status()["loaded_model"] == "b"
    assert first.score != second.score  # different weights, so a different judgement


@pytest.mark.django_db
def test_it_reports_the_model_it_is_loading_until_it_is_loaded(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = _runtime()
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))
    during: list[dict[str, object]] = []
    load = runtime._load

    def watched(model: object) -> object:
        during.append(runtime.status())
        return load(model)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime, "_load", watched)
    runtime.current()
    assert [(s["loaded_model"], s["loading_model"]) for s in during] == [(None, "a")]
    assert (runtime.status()["loaded_model"], runtime.status()["loading_model"]) == ("a", None)


@pytest.mark.django_db
def test_a_model_that_cannot_load_leaves_the_runtime_usable(tmp_path: Path, tiny_model_dir: Path) -> None:
    runtime = _runtime()
    broken = model_version_register(name="broken", base="x", path=str(tmp_path / "missing"))
    model_version_activate(model_version=broken)
    with pytest.raises(GuardUnavailable, match="cannot load model broken"):
        runtime.judge(REQUEST)
    assert "missing or has no config.json" in (runtime.status()["load_error"] or "")
    model_version_activate(model_version=model_version_register(name="ok", base="tiny", path=str(tiny_model_dir)))
    result, used = runtime.judge(REQUEST)
    assert used.name == "ok"
    assert result.error is None
    assert runtime.status()["load_error"] is None


@pytest.mark.django_db
def test_a_model_with_corrupt_weights_is_reported_as_such(tmp_path: Path, tiny_model_dir: Path) -> None:
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, corrupt)
    (weights,) = corrupt.glob("*.safetensors")
    weights.write_bytes(b"\x00\x10" * 500)
    model_version_activate(model_version=model_version_register(name="corrupt", base="x", path=str(corrupt)))
    runtime = _runtime()
    with pytest.raises(GuardUnavailable, match=r"model\.safetensors is not a usable safetensors file"):
        runtime.judge(REQUEST)
    assert "its header claims" in (runtime.status()["load_error"] or "")


def _stop_engine(backend: Any, failure: str) -> None:
    """Stands for an engine process that died: the transformers backend has none, so its `failure`
    is replaced by a fake that reports one (test_vllm_backend.py kills a real vLLM engine)."""
    backend.failure = lambda: failure


@pytest.mark.django_db
def test_a_model_whose_engine_stopped_is_reported_then_loaded_again(tiny_model_dir: Path) -> None:
    runtime = GuardRuntime(backend="transformers", max_batch=4, max_wait_ms=5, max_think_tokens=4, check_interval_s=60)
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))
    before, _ = runtime.judge(REQUEST)
    stopped = runtime.current()
    _stop_engine(stopped.guard.backend, "the engine process stopped")
    assert runtime.status()["load_error"] == "model a stopped: the engine process stopped"  # before any call
    after, used = runtime.judge(REQUEST)  # within check_interval_s: no model change made it reload
    assert runtime.current() is not stopped
    assert (used.name, after.score) == ("a", before.score)
    assert runtime.status()["load_error"] is None


@pytest.mark.django_db
def test_a_call_whose_engine_stops_under_it_finds_the_guard_unavailable(tiny_model_dir: Path) -> None:
    runtime = _runtime()
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))
    stopped = runtime.current()

    def dies(*args: object, **kwargs: object) -> object:
        _stop_engine(stopped.guard.backend, "the engine process stopped")
        raise BackendDead("the engine process stopped")

    stopped.guard.backend.score = dies  # type: ignore[method-assign,assignment]  # a fake: the engine dies mid-call
    with pytest.raises(GuardUnavailable, match="model a stopped while judging: the engine process stopped"):
        runtime.judge_many([REQUEST, REQUEST])
    result, _ = runtime.judge(REQUEST)  # what the task's retry does: the model is loaded again
    assert result.error is None
    assert runtime.current() is not stopped


@pytest.mark.django_db
def test_it_says_so_when_no_model_is_active() -> None:
    with pytest.raises(GuardUnavailable, match="no active guard model"):
        _runtime().judge(REQUEST)


def test_concurrent_callers_share_batches() -> None:
    sizes: list[int] = []
    gate = threading.Event()

    def run(items: Sequence[int]) -> list[int]:
        gate.wait(5)
        sizes.append(len(items))
        return [item * 2 for item in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=4, max_wait_ms=200)
    futures = [batcher.submit(i) for i in range(8)]
    gate.set()
    assert [f.result(timeout=10) for f in futures] == [i * 2 for i in range(8)]
    assert sum(sizes) == 8
    assert max(sizes) == 4
    assert len(sizes) <= 3
    batcher.close()


def test_a_failing_batch_fails_each_caller_and_the_batcher_goes_on() -> None:
    def run(items: Sequence[int]) -> list[int]:
        if 0 in items:
            raise ValueError("boom")
        return list(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=1, max_wait_ms=0)
    with pytest.raises(ValueError, match="boom"):
        batcher(0, timeout=5)
    assert batcher(3, timeout=5) == 3


def test_an_item_that_fails_its_batch_fails_only_its_own_caller() -> None:
    runs: list[list[int]] = []

    def run(items: Sequence[int]) -> list[int]:
        runs.append(list(items))
        if 0 in items:
            raise ValueError("the model cannot take 0")
        return [i * 10 for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=3, max_wait_ms=500)
    futures = [batcher.submit(i) for i in (1, 0, 2)]
    assert futures[0].result(timeout=5) == 10
    assert futures[2].result(timeout=5) == 20
    with pytest.raises(ValueError, match="cannot take 0"):
        futures[1].result(timeout=5)
    assert runs == [[1, 0, 2], [1], [0], [2]]
    batcher.close()


def test_a_lone_caller_does_not_wait_for_company() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(
        lambda items: list(items), max_batch=8, max_wait_ms=60_000, arrivals=Arrivals()
    )
    # Nobody else is on the way, so it runs now rather than after the minute it may wait.
    assert batcher.submit(1).result(timeout=10) == 1
    batcher.close()


def test_the_batcher_waits_for_callers_on_their_way() -> None:
    sizes: list[int] = []
    arrivals = Arrivals()

    def run(items: Sequence[int]) -> list[int]:
        sizes.append(len(items))
        return list(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=8, max_wait_ms=60_000, arrivals=arrivals)
    announced, results = threading.Event(), []

    def late_caller() -> None:
        arrivals.started()
        announced.set()
        time.sleep(0.3)
        future = batcher.submit(2)
        arrivals.arrived()
        results.append(future.result(timeout=10))

    caller = threading.Thread(target=late_caller)
    caller.start()
    announced.wait(5)
    assert batcher.submit(1).result(timeout=10) == 1
    caller.join(10)
    assert results == [2]
    assert sizes == [2]
    batcher.close()


def test_with_two_runners_an_item_does_not_wait_for_the_batch_in_flight() -> None:
    started, release = threading.Event(), threading.Event()

    def run(items: Sequence[int]) -> list[int]:
        if 0 in items:
            started.set()
            release.wait(10)
        return list(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=4, max_wait_ms=0, runners=2)
    first = batcher.submit(0)
    assert started.wait(5)
    assert batcher.submit(1).result(timeout=5) == 1
    assert not first.done()  # the first batch is still in the model
    release.set()
    assert first.result(timeout=5) == 0
    batcher.close()


def test_closing_stops_every_runner_then_calls_on_close_once() -> None:
    closed = threading.Event()
    calls: list[int] = []

    def on_close() -> None:
        calls.append(1)
        closed.set()

    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: list(items), runners=3, on_close=on_close)
    assert batcher(5, timeout=5) == 5
    batcher.close()
    assert closed.wait(5)
    time.sleep(0.1)  # a second call, were there one, would come from another runner right after
    assert calls == [1]


@pytest.mark.django_db
def test_a_backend_that_takes_one_call_at_a_time_gets_one_runner(tiny_model_dir: Path) -> None:
    runtime = GuardRuntime(
        backend="transformers", max_batch=4, max_wait_ms=5, max_think_tokens=4, batches_in_flight=4, check_interval_s=0
    )
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))
    assert runtime.current().batcher.runners == 1

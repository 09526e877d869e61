"""Faults inside and around a guard batch, found by trying. Each test failed on the code before its
fix; the comments say what happened there.

Fakes are named as such: they stand for an edge the test is not about (a backend output, a model
switch at an exact moment)."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from moderation_app.models import Decision
from moderation_app.tests.factories import recorded_decision
from policies_app.services import DEFAULT_POLICY_PATH
from policies_app.spec import parse_policy
from training_worker.guard import runtime as runtime_module
from training_worker.guard.batcher import BatcherClosed, MicroBatcher
from training_worker.guard.runtime import GuardRuntime, GuardUnavailable, get_runtime
from training_worker.guard.template import Message
from training_worker.guard.types import Generation, GuardRequest
from training_worker.services import model_version_activate, model_version_register
from training_worker.tasks.guard import moderate_batch, moderate_decision

SPEC = dataclasses.asdict(parse_policy(DEFAULT_POLICY_PATH.read_text()))
REQUEST = GuardRequest(spec=SPEC, messages=(Message("user", "hello"),), target="prompt", reasoning="none")
# SmolLM2's byte-level vocabulary has a token for the byte 0 (id 190, "Ā"): a model can write it.
NUL_TOKEN_TEXT = "\x00"


def _runtime() -> GuardRuntime:
    return GuardRuntime(backend="transformers", max_batch=4, max_wait_ms=5, max_think_tokens=4, check_interval_s=0)


# --- A model switch at the moment a caller hands in its request ------------------------------------


@pytest.mark.django_db
def test_a_request_handed_in_as_the_model_switches_is_still_judged(
    tiny_model_dir: Path, other_tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`judge_each` takes the loaded model, then submits to its batcher, without a lock. Another task
    thread that switches to a newly activated model in between closes that batcher. A request
    submitted to a closed batcher sits behind its stop sentinel: its single runner has gone, and the
    future is never resolved. The caller waits out its whole timeout (280 s in a guard task), then
    gets a TimeoutError, which the task takes for a failure on the content."""
    runtime = _runtime()
    model_version_activate(model_version=model_version_register(name="a", base="tiny", path=str(tiny_model_dir)))
    runtime.current()
    other = model_version_register(name="b", base="tiny", path=str(other_tiny_model_dir))

    real_started = runtime_module.ARRIVALS.started
    switched: list[str] = []

    def another_thread_switches_now() -> None:
        # A fake timing: what another task thread's `current()` does just now (check_interval_s=0,
        # so it sees model "b" and closes the batcher of "a").
        # Called here, in this thread, as the other thread would (the test's database transaction
        # is visible to this thread's connection only).
        if not switched:
            model_version_activate(model_version=other)  # someone promotes model "b" just now
            switched.append(runtime.current().model.name)
        real_started()

    monkeypatch.setattr(runtime_module.ARRIVALS, "started", another_thread_switches_now)
    outcomes, _ = runtime.judge_each([REQUEST], timeout=10)
    assert switched == ["b"]
    assert runtime.status()["loaded_model"] == "b"
    # Before: outcomes == [TimeoutError()] after the whole timeout.
    assert not isinstance(outcomes[0], Exception), repr(outcomes[0])


def test_a_request_submitted_to_a_closed_batcher_is_not_left_waiting_for_ever() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: list(items), max_batch=4, max_wait_ms=0)
    batcher.close(wait_s=5)
    # Before: the future stayed pending for ever (no runner was left to take it, nobody failed it).
    with pytest.raises(BatcherClosed):
        batcher.submit(1)


# --- Timeouts -----------------------------------------------------------------------------------------


def test_the_timeout_of_a_call_bounds_the_whole_call_not_each_of_its_requests() -> None:
    """`judge_each(timeout=...)` waits `timeout` for each future in turn, so a `moderate_batch` of N
    decisions on a stuck model holds its task thread N x 280 s (its soft_time_limit=600 is not enforced
    by Celery's threads pool, which the guard worker runs), and a policy test run N x 600 s."""
    release = threading.Event()

    def stuck(items: Sequence[GuardRequest]) -> list[Any]:  # a fake model call that hangs
        release.wait(30)
        raise RuntimeError("released")

    runtime = _runtime()
    batcher: MicroBatcher[GuardRequest, Any] = MicroBatcher(stuck, max_batch=8, max_wait_ms=0)
    model = SimpleNamespace(name="stuck")
    loaded = runtime_module.Loaded(model=model, guard=None, batcher=batcher)  # type: ignore[arg-type]
    runtime.current = lambda: loaded  # type: ignore[method-assign]  # a fake: no database, no model
    try:
        started = time.monotonic()
        # A model that does not answer makes the guard unavailable (the decisions stay pending),
        # not the content bad (it failed them closed, to review).
        with pytest.raises(GuardUnavailable, match="did not answer"):
            runtime.judge_each([REQUEST] * 4, timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        batcher.close()
    # Before: about 2.0 s, 0.5 s per request in turn.
    assert elapsed < 1.2, elapsed


def test_a_request_whose_caller_gave_up_is_not_run_afterwards() -> None:
    """A caller that timed out leaves its request queued in the batcher; the model judges it anyway
    when it gets to it, for nobody, while the task's retry queues the same decision again. Under load
    (the reason for the timeout) each timed-out request is thus judged twice or more."""
    gate = threading.Event()
    seen: list[int] = []

    def run(items: Sequence[int]) -> list[int]:
        gate.wait(10)  # the model is busy with an earlier batch
        seen.extend(items)
        return list(items)

    batcher: MicroBatcher[int, int] = MicroBatcher(run, max_batch=1, max_wait_ms=0)
    busy = batcher.submit(0)
    time.sleep(0.1)  # the runner holds item 0
    with pytest.raises(TimeoutError):
        batcher(1, timeout=0.2)  # the caller gives up
    gate.set()
    assert busy.result(timeout=5) == 0
    batcher.close(wait_s=5)
    # Before: [0, 1]: the abandoned request still cost a model call.
    assert seen == [0]


# --- A judgement the database refuses -------------------------------------------------------------


def _reasoning_with_nul_for(text: str) -> None:
    """A fake at the model's edge: for a prompt holding `text`, the generated reasoning holds the byte
    0 (SmolLM2's token 190 decodes to it); everything else is generated and scored for real."""
    backend = get_runtime().current().guard.backend
    generate = backend.generate

    def generating(prompts: Sequence[str], **kwargs: Any) -> list[Generation]:
        out = generate(prompts, **kwargs)
        return [
            dataclasses.replace(g, text=f"step one{NUL_TOKEN_TEXT}step two") if text in p else g
            for p, g in zip(prompts, out, strict=True)
        ]

    backend.generate = generating  # type: ignore[method-assign]


@pytest.mark.django_db
def test_a_nul_the_model_writes_into_its_reasoning_does_not_fail_the_task(active_tiny_model: Any) -> None:
    """PostgreSQL text cannot hold NUL: the UPDATE of `reasoning`/`raw_output` raises, the task fails
    with no retry and no fail-closed, and the decision stays pending. The recovery sweep queues it
    again every minute, and greedy decoding writes the same NUL each time: for ever."""
    decision = recorded_decision(text="poison", reasoning="full")
    _reasoning_with_nul_for("poison")
    outcome = moderate_decision.apply(args=(str(decision.pk),))
    # Before: ValueError "A string literal cannot contain NUL (0x00) characters." from the UPDATE.
    assert outcome.successful(), outcome.traceback
    decision.refresh_from_db()
    assert decision.status == Decision.Status.COMPLETED


@pytest.mark.django_db
def test_one_item_the_database_refuses_does_not_leave_the_rest_of_its_batch_pending(active_tiny_model: Any) -> None:
    bad, good = recorded_decision(text="poison", reasoning="full"), recorded_decision(text="hello", reasoning="full")
    _reasoning_with_nul_for("poison")
    moderate_batch.apply(args=([str(bad.pk), str(good.pk)],))
    good.refresh_from_db()
    # Before: the task fails on the first decision's UPDATE and never writes the second one's judgement.
    assert good.status == Decision.Status.COMPLETED


# --- A model call that hangs ------------------------------------------------------------------------


def _model_hangs(release: threading.Event) -> Any:
    """A fake at the model's edge: every scoring call blocks until `release` (an engine that hangs)."""
    loaded = get_runtime().current()
    backend = loaded.guard.backend
    score = backend.score

    def hanging(*args: Any, **kwargs: Any) -> Any:
        release.wait(60)
        return score(*args, **kwargs)

    backend.score = hanging  # type: ignore[method-assign]
    return loaded


@pytest.mark.django_db
def test_a_decision_whose_model_call_hangs_is_not_failed_closed_as_bad_content(
    active_tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`_outcome` hands a TimeoutError back as the request's own error, so `_moderate` retries it as a
    failure on the content and, on the last try, completes it `malformed` with "the guard failed on
    this content (TimeoutError: )" and a review item. Nothing is wrong with the content: the guard
    cannot judge now, which the contract treats as unavailable (the decision stays pending, as its
    503 `guard_timeout` told the caller: "stays queued"). While a model call hangs, every decision
    the worker takes goes to review this way."""
    release = threading.Event()
    _model_hangs(release)
    runtime = get_runtime()
    judge_each = runtime.judge_each
    # The task waits 280 s; the test waits 0.3 s (the wait itself is what the test is not about).
    monkeypatch.setattr(runtime, "judge_each", lambda requests, timeout=None: judge_each(requests, timeout=0.3))
    decision = recorded_decision(text="How do I bake bread?", reasoning="none")
    try:
        moderate_decision.apply(args=(str(decision.pk),))
        decision.refresh_from_db()
    finally:
        release.set()
    # Before: ("completed", True, "not judged: the guard failed on this content (TimeoutError: )").
    assert (decision.status, decision.flagged) == (Decision.Status.PENDING, None), decision.error


@pytest.mark.django_db
def test_a_worker_whose_model_call_hangs_says_so_to_the_ping(active_tiny_model: Any, settings: Any) -> None:
    """The ping (and /readyz, and the presence entry) reads `GuardRuntime.status()`, which knows only
    whether a model is loaded: with its one model call stuck for longer than any caller waits
    (GUARD_TIMEOUT_S), every guard call times out while /readyz answers 200 ok."""
    settings.GUARD_TIMEOUT_S = 1.0
    release = threading.Event()
    loaded = _model_hangs(release)
    try:
        future = loaded.batcher.submit(REQUEST)
        time.sleep(1.5)
        assert not future.done()
        status = get_runtime().status()
    finally:
        release.set()
    # Before: {"loaded_model": "tiny-random", "loading_model": None, "load_error": None, ...}: all well.
    assert status["load_error"], status

from __future__ import annotations

import threading
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from moderation_app.answers import decision_answer_key, decision_answer_pop
from moderation_app.models import Decision
from moderation_app.snapshot import decision_snapshot
from moderation_app.tests.factories import judged_decision, recorded_decision
from training_worker.guard.runtime import get_runtime
from training_worker.services import model_version_activate, model_version_register
from training_worker.tasks import guard as guard_tasks
from training_worker.tasks.guard import (
    MODERATE_RETRIES,
    _pending_decision,
    guard_model_keep,
    moderate_batch,
    moderate_decision,
    release_guard_model,
)

pytestmark = pytest.mark.django_db


def test_a_task_that_names_the_version_reads_only_the_decision(django_assert_num_queries: Any) -> None:
    decision = recorded_decision(text="hello")
    version = decision.policy_version
    _pending_decision(str(decision.pk), (version.pk, version.sha256))  # this worker reads the version once
    with django_assert_num_queries(1):
        loaded = _pending_decision(str(decision.pk), (version.pk, version.sha256))
    assert loaded.pk == decision.pk
    assert loaded.messages == [{"role": "user", "content": "hello"}]
    assert (loaded.policy_version.spec, loaded.policy_version.policy.slug) == (version.spec, "core-safety")


@pytest.mark.parametrize("named", ["wrong digest", "another version", "nothing"])
def test_a_task_without_a_matching_version_reads_it_with_the_decision(named: str) -> None:
    decision = recorded_decision(text="hello")
    version = decision.policy_version
    policy_version = {
        "wrong digest": (version.pk, "0" * 64),
        "another version": (version.pk + 1000, version.sha256),
        "nothing": None,
    }[named]
    loaded = _pending_decision(str(decision.pk), policy_version)
    assert loaded.policy_version.pk == version.pk
    assert loaded.policy_version.sha256 == version.sha256


def test_a_task_that_carries_the_decision_reads_nothing(django_assert_num_queries: Any) -> None:
    decision = recorded_decision(text="hello")
    version = decision.policy_version
    snapshot = decision_snapshot(decision=decision)
    _pending_decision(str(decision.pk), (version.pk, version.sha256), snapshot)  # this worker reads the version once
    with django_assert_num_queries(0):
        loaded = _pending_decision(str(decision.pk), (version.pk, version.sha256), snapshot)
    assert loaded.pk == decision.pk
    assert loaded.messages == [{"role": "user", "content": "hello"}]
    assert loaded.status == Decision.Status.PENDING
    assert loaded.policy_version.pk == version.pk


def test_a_snapshot_of_another_decision_is_not_used_for_this_one() -> None:
    decision, other = recorded_decision(text="hello"), recorded_decision(text="other")
    version = decision.policy_version
    loaded = _pending_decision(str(decision.pk), (version.pk, version.sha256), decision_snapshot(decision=other))
    assert loaded.pk == decision.pk
    assert loaded.messages == [{"role": "user", "content": "hello"}]


def test_a_redelivered_message_reads_the_decision_as_it_is_now() -> None:
    decision = judged_decision(verdict="safe", score=0.1)  # done before the worker stopped
    version = decision.policy_version
    stale = Decision.objects.get(pk=decision.pk)
    stale.status = Decision.Status.PENDING  # the snapshot as the API wrote it, before the judgement
    moderate_decision.push_request(delivery_info={"redelivered": True})
    try:
        status = moderate_decision.run(
            str(decision.pk), policy_version=[version.pk, version.sha256], snapshot=decision_snapshot(decision=stale)
        )
    finally:
        moderate_decision.pop_request()
    assert status == Decision.Status.COMPLETED  # answered from the row: no guard was needed, none is loaded here


def test_a_decision_no_model_can_judge_stays_pending_after_its_retries_and_is_judged_once_one_can(
    tiny_model_dir: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision = recorded_decision(text="hello")  # and no model is active
    answer_to = decision_answer_key(decision_id=uuid.uuid4())
    assert answer_to is not None  # the tests' cache is Redis
    runtime, tries = get_runtime(), Counter[str]()
    judge_each = runtime.judge_each

    def counted(*args: Any, **kwargs: Any) -> Any:
        tries["judge_each"] += 1
        return judge_each(*args, **kwargs)

    monkeypatch.setattr(runtime, "judge_each", counted)
    # apply() runs the retries at once, one after another, as the worker would after 1, 2 and 4 s.
    outcome = moderate_decision.apply(args=(str(decision.pk),), kwargs={"answer": True, "answer_to": answer_to})
    assert outcome.successful()  # no task error: the decision is kept, not lost
    assert outcome.get() == "pending"
    assert tries["judge_each"] == 1 + MODERATE_RETRIES
    decision.refresh_from_db()
    assert (decision.status, decision.flagged, decision.error) == ("pending", None, "")  # not failed closed
    assert decision_answer_pop(key=answer_to, timeout_s=0.1) is None  # the waiting caller hears no judgement
    assert "they stay pending" in caplog.text

    # What the recovery job sends once a model is active again judges it.
    model_version_activate(model_version=model_version_register(name="back", base="tiny", path=str(tiny_model_dir)))
    assert moderate_decision.apply(args=(str(decision.pk),)).get() == "completed"
    decision.refresh_from_db()
    assert decision.status == "completed"
    assert decision.verdict in ("safe", "unsafe")


def test_a_batch_no_model_can_judge_stays_pending_without_a_task_error() -> None:
    decisions = [recorded_decision(text="a"), recorded_decision(text="b")]
    outcome = moderate_batch.apply(args=([str(d.pk) for d in decisions],))
    assert outcome.successful()
    assert outcome.get() == ["pending", "pending"]


def test_the_keeper_loads_the_active_model_and_reports_a_missing_one_once(
    tiny_model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    error = guard_model_keep()
    assert error is not None
    assert "no active guard model" in error
    assert guard_model_keep(reported=error) == error
    assert caplog.text.count("no active guard model") == 1  # said once, not every few seconds
    model_version_activate(model_version=model_version_register(name="kept", base="tiny", path=str(tiny_model_dir)))
    assert guard_model_keep(reported=error) is None
    assert get_runtime().status()["loaded_model"] == "kept"  # loaded before any request asked for it


def _guard_refusing(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """A fake at the guard's edge: the model fails on each request that holds `text` (an engine that
    refuses a prompt), and judges the others for real."""
    runtime = get_runtime()
    judge_each = runtime.judge_each

    def refusing(requests: list[Any], **kwargs: Any) -> Any:
        outcomes, model = judge_each(requests, **kwargs)
        refused = ValueError(f"the engine refused {text!r}")
        pairs = zip(requests, outcomes, strict=True)
        return [refused if any(m.content == text for m in r.messages) else o for r, o in pairs], model

    monkeypatch.setattr(runtime, "judge_each", refusing)


def test_a_decision_the_guard_keeps_failing_on_fails_closed_to_review_and_answers_its_caller(
    active_tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    decision = recorded_decision(text="poison")
    answer_to = decision_answer_key(decision_id=uuid.uuid4())
    assert answer_to is not None
    _guard_refusing(monkeypatch, "poison")
    outcome = moderate_decision.apply(args=(str(decision.pk),), kwargs={"answer": True, "answer_to": answer_to})
    assert outcome.successful()
    decision.refresh_from_db()
    assert (decision.status, decision.flagged, decision.malformed, decision.verdict) == ("completed", True, True, "")
    assert "ValueError: the engine refused 'poison'" in decision.error
    assert decision.review_item.reason == "malformed"  # a person looks at what the guard could not judge
    answer = decision_answer_pop(key=answer_to, timeout_s=1)
    assert answer is not None
    assert (answer["status"], answer["flagged"]) == ("completed", True)


def test_a_bad_item_in_a_batch_fails_closed_alone_and_the_others_are_judged_once(
    active_tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = recorded_decision(text="hello"), recorded_decision(text="poison")
    _guard_refusing(monkeypatch, "poison")
    runtime = get_runtime()
    refusing = runtime.judge_each
    judged: list[str] = []

    def counting(requests: list[Any], **kwargs: Any) -> Any:
        judged.extend(r.messages[-1].content for r in requests)
        return refusing(requests, **kwargs)

    monkeypatch.setattr(runtime, "judge_each", counting)
    assert moderate_batch.apply(args=([str(good.pk), str(bad.pk)],)).get() == ["completed", "completed"]
    # The bad one is tried on the first run and the three retries; the good one only on the first.
    assert (judged.count("hello"), judged.count("poison")) == (1, 4)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.malformed, good.error, good.verdict in ("safe", "unsafe")) == (False, "", True)
    assert (bad.malformed, bad.flagged) == (True, True)


def test_a_stopping_worker_releases_its_model_and_its_keeper_loads_none_again(
    active_tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(guard_tasks, "KEEPER_STOP", threading.Event())  # this process's workers stop for the test only
    loaded = get_runtime().current()
    release_guard_model()
    assert not [thread for thread in loaded.batcher._threads if thread.is_alive()]
    assert get_runtime().status()["loaded_model"] is None
    assert guard_model_keep() is None
    assert get_runtime().status()["loaded_model"] is None  # a keeper still looking would load it again

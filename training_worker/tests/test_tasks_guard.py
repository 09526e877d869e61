from __future__ import annotations

from typing import Any

import pytest

from moderation_app.models import Decision
from moderation_app.snapshot import decision_snapshot
from moderation_app.tests.factories import judged_decision, recorded_decision
from training_worker.tasks.guard import _pending_decision, moderate_decision

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

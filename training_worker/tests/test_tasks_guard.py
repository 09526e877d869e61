from __future__ import annotations

from typing import Any

import pytest

from moderation_app.tests.factories import recorded_decision
from training_worker.tasks.guard import _pending_decision

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

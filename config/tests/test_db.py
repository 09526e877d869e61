from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from config.db import insert_unflushed, one_snapshot, update_then_insert
from moderation_app.models import Decision, ReviewItem
from moderation_app.tests.factories import recorded_decision
from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db


def _item(decision: Decision) -> ReviewItem:
    return ReviewItem(decision=decision, reason=ReviewItem.Reason.FLAGGED, priority=2)


def test_it_updates_the_row_and_inserts_the_object_in_one_statement(django_assert_num_queries: Any) -> None:
    decision = recorded_decision(text="hello")
    item = _item(decision)
    pending = Decision.objects.filter(pk=decision.pk, status=Decision.Status.PENDING)
    with django_assert_num_queries(1):
        assert update_then_insert(rows=pending, values={"status": Decision.Status.COMPLETED, "score": 0.9}, obj=item)
    assert Decision.objects.values_list("status", "score").get(pk=decision.pk) == ("completed", 0.9)
    stored = ReviewItem.objects.get(pk=item.pk)
    assert (stored.decision_id, stored.reason, stored.status, stored.labels_needed) == (
        decision.pk,
        "flagged",
        "open",
        1,
    )
    assert stored.created_at == item.created_at
    assert not item._state.adding


def test_it_inserts_nothing_when_no_row_is_updated() -> None:
    decision = recorded_decision(text="hello")
    Decision.objects.filter(pk=decision.pk).update(status=Decision.Status.COMPLETED)
    pending = Decision.objects.filter(pk=decision.pk, status=Decision.Status.PENDING)
    assert not update_then_insert(rows=pending, values={"score": 0.9}, obj=_item(decision))
    assert not ReviewItem.objects.exists()
    assert Decision.objects.get(pk=decision.pk).score is None


def _new_decision() -> Decision:
    policy, _ = policy_ensure_default()
    assert policy.published_version is not None
    return Decision(
        policy_version=policy.published_version,
        template_version="rsafe-1",
        messages=[{"role": "user", "content": "hello"}],
        target="prompt",
    )


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_an_unflushed_insert_is_one_statement_that_turns_the_flush_off_for_itself_only() -> None:
    decision = _new_decision()
    with CaptureQueriesContext(connection) as queries:
        insert_unflushed(obj=decision)
    assert len(queries) == 1
    assert "set_config('synchronous_commit', 'off', true)" in queries[0]["sql"]
    assert not decision._state.adding
    stored = Decision.objects.get(pk=decision.pk)
    assert (stored.messages, stored.status, stored.created_at) == (decision.messages, "pending", decision.created_at)
    assert _synchronous_commit() == "on"  # the connection's next commits wait for the disk again


def test_an_unflushed_insert_inside_a_transaction_leaves_the_commit_to_it() -> None:
    """pytest-django runs this test in a transaction: the caller's commit decides, so nothing is turned off."""
    decision = _new_decision()
    with CaptureQueriesContext(connection) as queries:
        insert_unflushed(obj=decision)
    assert "set_config" not in " ".join(q["sql"] for q in queries)
    assert Decision.objects.filter(pk=decision.pk).exists()
    assert _synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_reads_in_one_snapshot_do_not_see_a_commit_made_between_them() -> None:
    from django.contrib.auth.models import Group

    Group.objects.create(name="before")
    seen: list[int] = []

    def commit_elsewhere() -> None:
        Group.objects.create(name="between")
        connection.close()

    with one_snapshot():
        seen.append(Group.objects.count())
        worker = threading.Thread(target=commit_elsewhere)
        worker.start()
        worker.join()
        seen.append(Group.objects.count())
    seen.append(Group.objects.count())
    inside_before, inside_after, outside = seen
    assert (inside_after, outside) == (inside_before, inside_before + 1)

from __future__ import annotations

from typing import Any

import pytest

from config.db import update_then_insert
from moderation_app.models import Decision, ReviewItem
from moderation_app.tests.factories import recorded_decision

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

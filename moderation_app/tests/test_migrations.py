from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from moderation_app.models import ReviewItem, ReviewLabel
from moderation_app.services import review_claim_next, review_label
from moderation_app.tests.factories import UserFactory, judged_decision


def _label_next(reviewer: Any, verdict: str) -> None:
    item = review_claim_next(reviewer=reviewer)
    assert item is not None
    categories = ["S1"] if verdict == "unsafe" else []
    review_label(item=item, reviewer=reviewer, verdict=verdict, categories=categories, rationale="")


@pytest.mark.django_db(transaction=True)
def test_migrating_fills_in_the_guards_verdict_and_each_labels_place_for_what_there_is() -> None:
    flagged = judged_decision(verdict="unsafe", score=0.9, text="flagged").review_item
    ReviewItem.objects.filter(pk=flagged.pk).update(labels_needed=2)
    for reviewer, verdict in zip(
        (UserFactory(), UserFactory(), UserFactory()), ("unsafe", "safe", "unsafe"), strict=True
    ):
        _label_next(reviewer, verdict)  # disagreeing, then settled
    malformed = judged_decision(verdict=None, score=0.5, text="malformed").review_item
    places = list(ReviewLabel.objects.order_by("position").values_list("pk", "position"))
    assert [place for _, place in places] == [1, 2, 3]

    executor = MigrationExecutor(connection)
    executor.migrate([("moderation_app", "0016_decision_malformed_index")])  # drops the columns
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("moderation_app"))  # and on to the latest, for the next tests

    assert dict(ReviewItem.objects.values_list("pk", "guard_verdict")) == {flagged.pk: "unsafe", malformed.pk: ""}
    assert list(ReviewLabel.objects.order_by("position").values_list("pk", "position")) == places


@pytest.mark.django_db(transaction=True)
def test_the_place_of_a_label_written_between_the_two_migrations_is_filled_in() -> None:
    item = judged_decision(verdict="unsafe", score=0.9, text="flagged").review_item
    ReviewItem.objects.filter(pk=item.pk).update(labels_needed=2)
    for reviewer in (UserFactory(), UserFactory()):
        _label_next(reviewer, "unsafe")
    executor = MigrationExecutor(connection)
    executor.migrate([("moderation_app", "0017_reviewer_figures")])  # the place may be empty again
    with connection.cursor() as cursor:  # as a web process older than 0017 writes a label
        cursor.execute("UPDATE moderation_app_reviewlabel SET position = NULL")
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("moderation_app"))

    assert list(ReviewLabel.objects.order_by("created_at", "pk").values_list("position", flat=True)) == [1, 2]

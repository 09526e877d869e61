"""The decision detail as the audit page reads it: staff see the review history, services do not."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from moderation_app.models import Decision
from moderation_app.services import (
    api_key_create,
    review_claim_next,
    review_label,
)
from moderation_app.tests.factories import UserFactory, judged_decision, recorded_decision
from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_reviewer_per_item(settings: Any) -> None:
    settings.REVIEW_SECOND_OPINION_RATE = 0.0


def _flagged_decision(token_key: Any) -> Decision:
    return judged_decision(
        verdict="unsafe",
        score=0.9,
        text="how to hurt someone",
        api_key=token_key,
        reasoning="It asks how to hurt a person: S1.",
    )


def test_staff_see_who_labelled_a_decision_and_why() -> None:
    policy, _ = policy_ensure_default()
    key, token = api_key_create(name="chat", policy=policy, actor=None)
    decision = _flagged_decision(key)
    rita = UserFactory(username="rita", roles=["reviewer"])
    item = review_claim_next(reviewer=rita)
    assert item is not None
    assert item.decision_id == decision.pk
    review_label(item=item, reviewer=rita, verdict="unsafe", categories=["S1"], rationale="a threat of violence")

    staff = APIClient()
    staff.force_authenticate(UserFactory(roles=["policy_editor"]))
    body = staff.get(f"/api/v1/decisions/{decision.pk}/").json()
    history = body["review_history"]
    assert (history["status"], history["reason"], history["labels_needed"]) == ("done", "flagged", 1)
    assert history["done_at"] is not None
    assert [
        (label["reviewer"], label["verdict"], label["categories"], label["rationale"]) for label in history["labels"]
    ] == [("rita", "unsafe", ["S1"], "a threat of violence")]

    service = APIClient()
    service.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    as_service = service.get(f"/api/v1/decisions/{decision.pk}/").json()
    assert as_service["id"] == str(decision.pk)
    assert "review_history" not in as_service


def test_a_decision_that_was_not_reviewed_has_no_history(settings: Any) -> None:
    settings.REVIEW_SAMPLE_RATE = 0.0
    decision = recorded_decision(text="hi", reasoning="none")
    staff = APIClient()
    staff.force_authenticate(UserFactory(roles=["reviewer"]))
    body = staff.get(f"/api/v1/decisions/{decision.pk}/").json()
    assert body["status"] == "pending"
    assert body["review_history"] is None

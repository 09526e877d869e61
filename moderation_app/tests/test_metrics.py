"""What /metrics shows of the platform's backlog, read from the database at each scrape."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from moderation_app.models import ReviewItem, WebhookDelivery
from moderation_app.tests.factories import judged_decision, recorded_decision


def _gauges(text: str, name: str) -> dict[str, float]:
    return {state: float(value) for state, value in re.findall(rf'^{name}{{state="(\w+)"}} (\S+)$', text, re.M)}


@pytest.mark.django_db
@pytest.mark.usefixtures("no_sampled_reviews")  # the safe decision must not be sampled into review
def test_metrics_show_pending_decisions_failed_webhooks_and_escalated_review_items(client: Client) -> None:
    recorded_decision(text="still waiting for the guard")
    done = judged_decision(verdict="safe", score=0.01, text="answered")
    WebhookDelivery.objects.create(
        decision=done, status=WebhookDelivery.Status.FAILED, attempts=12, due_at=timezone.now()
    )
    disputed = judged_decision(verdict="unsafe", score=0.9, text="disputed").review_item
    ReviewItem.objects.filter(pk=disputed.pk).update(escalated_at=timezone.now(), labels_needed=3)
    judged_decision(verdict="unsafe", score=0.9, text="flagged")

    text = client.get("/metrics").content.decode()

    assert _gauges(text, "arbiter_decisions") == {"pending": 1.0}
    assert _gauges(text, "arbiter_webhook_deliveries") == {"pending": 0.0, "failed": 1.0}
    assert _gauges(text, "arbiter_review_items") == {"open": 2.0, "claimed": 0.0, "escalated": 1.0}

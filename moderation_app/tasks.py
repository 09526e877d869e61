"""Tasks on the default queue. No model code here: the default worker runs without torch."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from config.celery import app
from moderation_app.models import WebhookDelivery
from moderation_app.services import decisions_recover_lost
from moderation_app.services.webhooks import (
    LEASE_S,
    webhook_deliveries_due,
    webhook_delivery_attempt,
    webhook_delivery_claim,
)

logger = logging.getLogger(__name__)


@app.task(name="moderation_app.tasks.deliver_decision_webhook", acks_late=True, time_limit=LEASE_S)
def deliver_decision_webhook(decision_id: str) -> str:
    """One attempt at a decision's webhook, if it is due; a failed one is retried by the sweep."""
    from moderation_app.apis.moderation import decision_answer

    delivery = webhook_delivery_claim(decision_id=decision_id)
    if delivery is None:
        return "not due"
    delivery = webhook_delivery_attempt(delivery=delivery, payload=decision_answer(delivery.decision))
    if delivery.status != WebhookDelivery.Status.DELIVERED:
        logger.warning(
            "webhook of decision %s, attempt %d: %s (%s)",
            decision_id,
            delivery.attempts,
            delivery.last_error,
            delivery.status,
        )
    return str(delivery.status)


@app.task(name="moderation_app.tasks.deliver_due_webhooks", acks_late=False, time_limit=60)
def deliver_due_webhooks() -> int:
    """Beat runs it every minute (migration 0012): queue the deliveries that are due."""
    due = webhook_deliveries_due()
    for decision_id in due:
        deliver_decision_webhook.delay(decision_id)
    return len(due)


@app.task(name="moderation_app.tasks.recover_lost_decisions", acks_late=False, time_limit=120)
def recover_lost_decisions() -> int:
    """Beat runs it every minute (migration 0007): queue again decisions whose guard task was lost."""
    lost = decisions_recover_lost(older_than=timedelta(seconds=settings.DECISION_RECOVER_AFTER_S))
    if lost:
        logger.warning("queued %d decisions again whose guard task was lost: %s", len(lost), ", ".join(lost[:20]))
    return len(lost)

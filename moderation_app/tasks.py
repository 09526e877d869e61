"""Tasks on the default queue. No model code here: the default worker runs without torch."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings

from config.celery import app
from moderation_app.models import Decision
from moderation_app.services import decisions_recover_lost
from moderation_app.services.webhooks import WebhookDeliveryError, webhook_deliver

logger = logging.getLogger(__name__)


@app.task(
    name="moderation_app.tasks.deliver_decision_webhook",
    acks_late=True,
    autoretry_for=(WebhookDeliveryError,),
    retry_backoff=2,
    retry_backoff_max=600,
    max_retries=8,
    time_limit=30,
)
def deliver_decision_webhook(decision_id: str) -> int:
    from moderation_app.apis.moderation import decision_answer

    decision = Decision.objects.select_related("api_key", "policy_version__policy", "model_version").get(pk=decision_id)
    return webhook_deliver(decision=decision, payload=decision_answer(decision))


@app.task(name="moderation_app.tasks.recover_lost_decisions", acks_late=False, time_limit=120)
def recover_lost_decisions() -> int:
    """Beat runs it every minute (migration 0007): queue again decisions whose guard task was lost."""
    lost = decisions_recover_lost(older_than=timedelta(seconds=settings.DECISION_RECOVER_AFTER_S))
    if lost:
        logger.warning("queued %d decisions again whose guard task was lost: %s", len(lost), ", ".join(lost[:20]))
    return len(lost)

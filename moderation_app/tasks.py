"""Tasks on the default queue. No model code here: the default worker runs without torch."""

from __future__ import annotations

from config.celery import app
from moderation_app.models import Decision
from moderation_app.services.webhooks import WebhookDeliveryError, webhook_deliver


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

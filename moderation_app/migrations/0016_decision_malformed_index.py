"""Partial indexes of malformed decisions (the audit's filter), of failed webhook deliveries (counted
at every /metrics scrape) and of escalated review items (counted by the review stats), all rare rows
of big tables.

Built without blocking writes on PostgreSQL (`CREATE INDEX CONCURRENTLY`, so the migration is not
atomic), as in 0008: a plain build stops every moderation call's INSERT until it is done.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

MALFORMED = models.Index(fields=["-created_at"], condition=models.Q(malformed=True), name="decision_malformed_idx")
FAILED = models.Index(fields=["created_at"], condition=models.Q(status="failed"), name="webhook_failed_idx")
ESCALATED = models.Index(
    fields=["escalated_at"], condition=models.Q(escalated_at__isnull=False), name="review_escalated_idx"
)
SQL = {
    MALFORMED.name: "ON moderation_app_decision (created_at DESC) WHERE malformed",
    FAILED.name: "ON moderation_app_webhookdelivery (created_at) WHERE status = 'failed'",
    ESCALATED.name: "ON moderation_app_reviewitem (escalated_at) WHERE escalated_at IS NOT NULL",
}
MODELS = {MALFORMED.name: "Decision", FAILED.name: "WebhookDelivery", ESCALATED.name: "ReviewItem"}
INDEXES = (MALFORMED, FAILED, ESCALATED)


def create(apps: Any, schema_editor: Any) -> None:
    for index in INDEXES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {index.name} {SQL[index.name]}")
        else:
            schema_editor.add_index(apps.get_model("moderation_app", MODELS[index.name]), index)


def drop(apps: Any, schema_editor: Any) -> None:
    for index in INDEXES:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index.name}")
        else:
            schema_editor.remove_index(apps.get_model("moderation_app", MODELS[index.name]), index)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("moderation_app", "0015_webhook_attempt_in_flight")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="decision", index=MALFORMED),
                migrations.AddIndex(model_name="webhookdelivery", index=FAILED),
                migrations.AddIndex(model_name="reviewitem", index=ESCALATED),
            ],
            database_operations=[migrations.RunPython(create, drop, elidable=False)],
        )
    ]

"""A partial index of pending decisions, for the every-minute sweep for lost ones.

Built without blocking writes on PostgreSQL (`CREATE INDEX CONCURRENTLY`, so the migration is not
atomic): a plain build holds a lock that stops every moderation call's INSERT until it is done, which
on a table of millions is seconds of outage.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

INDEX = models.Index(fields=["created_at"], condition=models.Q(status="pending"), name="decision_pending_created_idx")


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX.name} ON moderation_app_decision (created_at) "
            "WHERE status = 'pending'"
        )
    else:
        schema_editor.add_index(apps.get_model("moderation_app", "Decision"), INDEX)


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX.name}")
    else:
        schema_editor.remove_index(apps.get_model("moderation_app", "Decision"), INDEX)


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("moderation_app", "0007_recover_lost_decisions")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="decision", index=INDEX)],
            database_operations=[migrations.RunPython(create, drop, elidable=False)],
        )
    ]

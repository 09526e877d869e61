"""A GIN index on decisions' categories, on PostgreSQL, for the category filter of the list and export.

Without it, `categories @> '["S9"]'` reads every row: a rare category's count, or a category no
decision has, cost 0.2 s a page on a million decisions (bench/decision_list.py). Other databases have
no such index (the filter reads each list with SQLite's `json_each`); the model does not declare it,
since Django cannot say "PostgreSQL only" there. Built without blocking writes (`CONCURRENTLY`, so the
migration is not atomic): a plain build would stop every moderation call's INSERT until it is done.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEX = "decision_categories_gin"


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON moderation_app_decision "
            "USING gin (categories jsonb_path_ops)"
        )


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("moderation_app", "0008_decision_pending_index")]

    operations = [migrations.RunPython(create, drop, elidable=False)]

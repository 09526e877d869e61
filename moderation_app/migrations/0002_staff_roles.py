"""Creates the staff roles as groups: policy_editor, reviewer, ml_engineer."""

from __future__ import annotations

from typing import Any

from django.db import migrations

ROLES = ("policy_editor", "reviewer", "ml_engineer")


def create_roles(apps: Any, schema_editor: Any) -> None:
    Group = apps.get_model("auth", "Group")
    for name in ROLES:
        Group.objects.get_or_create(name=name)


def remove_roles(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("moderation_app", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]

from __future__ import annotations

from django.apps import AppConfig


class ModerationAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "moderation_app"
    verbose_name = "Moderation"

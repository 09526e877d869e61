from __future__ import annotations

from django.apps import AppConfig


class TrainingWorkerConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training_worker"
    verbose_name = "Guard"

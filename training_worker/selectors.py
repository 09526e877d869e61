from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from config.errors import found_or_404
from training_worker.models import ModelVersion, TrainingRun


def model_version_active() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()


def model_version_list() -> QuerySet[ModelVersion]:
    return ModelVersion.objects.select_related("parent", "activated_by").order_by("-created_at", "-id")


def model_version_get(*, model_id: int) -> ModelVersion:
    return found_or_404(model_version_list().filter(pk=model_id).first(), f"no model {model_id}")


def training_run_list() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("requested_by", "candidate").order_by("-created_at", "-id")


def training_run_get(*, run_id: int) -> TrainingRun:
    return found_or_404(training_run_list().filter(pk=run_id).first(), f"no training run {run_id}")


def training_run_last_succeeded() -> TrainingRun | None:
    return TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED).order_by("-started_at").first()


def labelled_cases_since_count(*, since: datetime | None) -> int:
    from moderation_app.models import Case

    cases = Case.objects.filter(verdict__in=("safe", "unsafe"))
    return (cases.filter(created_at__gt=since) if since is not None else cases).count()

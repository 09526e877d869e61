from __future__ import annotations

from django.conf import settings
from django.db import models


class ModelVersion(models.Model):
    """A guard model the workers can load. Exactly one is active at a time."""

    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        ACTIVE = "active"
        RETIRED = "retired"

    class Source(models.TextChoices):
        PACKAGED = "packaged"
        REGISTERED = "registered"
        TRAINED = "trained"

    name = models.CharField(max_length=200, unique=True)
    base = models.CharField(max_length=300, help_text="The model it derives from (a name or hub id).")
    path = models.CharField(max_length=1000, help_text="A directory under MODEL_STORE, or any local path.")
    template_version = models.CharField(max_length=32)
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE)
    metrics = models.JSONField(default=dict, blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    training_run = models.OneToOneField(
        "TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="candidate"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="active"), name="model_version_one_active"
            ),
        ]

    def __str__(self) -> str:
        return self.name


OPEN_RUN_STATUSES = ("queued", "running")


class TrainingRun(models.Model):
    """One fine-tuning run of the guard: its config, dataset sizes, metrics per step, evaluations and gate."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        MANUAL = "manual"
        SCHEDULE = "schedule"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    config = models.JSONField(default=dict, blank=True)
    dataset = models.JSONField(default=dict, blank=True)
    sft_ran = models.BooleanField(default=False)
    sft_steps = models.JSONField(default=list, blank=True)
    sft_format_rate = models.FloatField(
        null=True, blank=True, help_text="The base model's format rate that decided whether the SFT warm-up ran."
    )
    steps = models.JSONField(default=list, blank=True)
    eval_before = models.JSONField(default=dict, blank=True)
    eval_after = models.JSONField(default=dict, blank=True)
    gate = models.JSONField(default=dict, blank=True)
    base_model = models.ForeignKey(
        ModelVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="What it trained from.",
    )
    error = models.TextField(blank=True)
    logs = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One run at a time: at most one row may be queued or running, whoever inserts it.
            models.UniqueConstraint(
                models.Value(True),
                condition=models.Q(status__in=OPEN_RUN_STATUSES),
                name="training_run_one_open",
                violation_error_message="A training run is already queued or running.",
            ),
        ]

    def __str__(self) -> str:
        return f"training run {self.pk} ({self.status})"

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or self.heartbeat_at or self.started_at) - self.started_at).total_seconds()

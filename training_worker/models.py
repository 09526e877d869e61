from __future__ import annotations

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
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="active"), name="model_version_one_active"
            ),
        ]

    def __str__(self) -> str:
        return self.name

from __future__ import annotations

from django.conf import settings
from django.db import models


class Policy(models.Model):
    """A safety policy, identified by the `id` of its spec (the slug); its content lives in versions."""

    slug = models.SlugField(max_length=63, unique=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    published_version = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.slug


class PolicyVersion(models.Model):
    """One immutable revision of a policy's source. Services never update or delete a version."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    source = models.TextField()
    sha256 = models.CharField(max_length=64)
    spec = models.JSONField(help_text="The parsed spec, as the guard reads it.")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["policy", "number"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "number"], name="policy_version_number_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="policy_version_number_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.policy_id}@{self.number}"

    @property
    def categories(self) -> list[dict[str, str]]:
        return [
            {"code": c["code"], "name": c["name"], "description": c["description"]}
            for c in self.spec.get("categories", [])
        ]


class PolicyEvent(models.Model):
    """The audit trail of a policy."""

    class Kind(models.TextChoices):
        CREATED = "created"
        VERSION_CREATED = "version_created"
        PUBLISHED = "published"
        ROLLED_BACK = "rolled_back"
        PUBLISH_FORCED = "publish_forced"

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="events")
    version = models.ForeignKey(PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["policy", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.policy_id}"

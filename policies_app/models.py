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


class GuardJob(models.Model):
    """What a job on the guard worker records: its state, who asked, when it ran and which model ran it."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        COMPLETED = "completed"
        ERROR = "error"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    model_name = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class PolicyTestRun(GuardJob):
    """One run of a version's `tests:` through the guard."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="test_runs")
    total = models.PositiveIntegerField(default=0)
    passed_count = models.PositiveIntegerField(default=0)
    pass_rate = models.FloatField(null=True, blank=True)
    required_pass_rate = models.FloatField(help_text="The publish gate's minimum, or 1.0 without a gate.")

    class Meta(GuardJob.Meta):
        pass

    def __str__(self) -> str:
        return f"test run {self.pk} of {self.version}"

    @property
    def passed(self) -> bool:
        return (
            self.status == self.Status.COMPLETED
            and self.pass_rate is not None
            and self.pass_rate >= self.required_pass_rate
        )


class PolicyTestResult(models.Model):
    run = models.ForeignKey(PolicyTestRun, on_delete=models.CASCADE, related_name="results")
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=200, blank=True)
    input = models.TextField()
    target = models.CharField(max_length=16)
    expected = models.CharField(max_length=16)
    expected_categories = models.JSONField(default=list)
    got = models.CharField(max_length=16, help_text="safe, unsafe, or malformed")
    categories = models.JSONField(default=list)
    score = models.FloatField()
    reasoning = models.TextField(blank=True)
    passed = models.BooleanField()

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="policy_test_result_index_unique")]

    def __str__(self) -> str:
        return f"{self.run_id}#{self.index}"


class PolicyBacktest(GuardJob):
    """A version judged over labelled cases, next to the published version: what changes if it ships."""

    version = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="backtests")
    baseline = models.ForeignKey(
        PolicyVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The published version then.",
    )
    sample_size = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: every labelled case.")
    reasoning = models.CharField(max_length=8, default="none")
    cases_total = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True)
    baseline_metrics = models.JSONField(default=dict, blank=True)
    flips = models.JSONField(default=list, blank=True)

    class Meta(GuardJob.Meta):
        pass

    def __str__(self) -> str:
        return f"backtest {self.pk} of {self.version}"

from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

# Who a message of a judged conversation (a decision's, a case's) can be from.
MESSAGE_ROLES = ("user", "assistant", "system")


class ApiKey(models.Model):
    """A service's credential. Only a hash of the secret is stored; the key is shown once."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part of the key, for lookup and display.")
    key_hash = models.CharField(max_length=64)
    policy = models.ForeignKey(
        "policies_app.Policy",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text="The policy used when a request names none.",
    )
    rate_limit_per_minute = models.PositiveIntegerField()
    webhook_url = models.URLField(blank=True, help_text="Where decisions requested with async=true are posted.")
    webhook_secret = models.CharField(max_length=64, blank=True, help_text="Signs webhook bodies (HMAC-SHA256).")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(rate_limit_per_minute__gte=1), name="api_key_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiKeyEvent(models.Model):
    """The audit trail of an API key: who made it, changed what it may do, rotated its webhook
    secret or revoked it. `changes` holds each changed field's old and new value, never a secret."""

    class Kind(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        WEBHOOK_SECRET_ROTATED = "webhook_secret_rotated"
        REVOKED = "revoked"

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Empty for the command line.",
    )
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["api_key", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.api_key_id}"


class Decision(models.Model):
    """One moderation request and the guard's judgement of it. Written when the API accepts the
    request (so nothing accepted is lost), completed once by the guard worker, never edited after."""

    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        # Set by earlier releases when no guard could judge a decision; now it stays pending until one
        # can (training_worker.tasks.guard.MODERATE_RETRIES). Kept for those rows.
        FAILED = "failed"

    class Source(models.TextChoices):
        API = "api"
        PLAYGROUND = "playground"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.API)
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.PROTECT, related_name="decisions")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    policy_version = models.ForeignKey("policies_app.PolicyVersion", on_delete=models.PROTECT, related_name="decisions")
    model_version = models.ForeignKey(
        "training_worker.ModelVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="decisions"
    )
    template_version = models.CharField(max_length=32, blank=True)
    messages = models.JSONField()
    target = models.CharField(max_length=16)
    reasoning_mode = models.CharField(max_length=8)
    callback = models.BooleanField(default=False, help_text="Requested with async=true: post it to the key's webhook.")
    external_id = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    verdict = models.CharField(max_length=16, blank=True, help_text="safe, unsafe, or empty while pending / malformed")
    flagged = models.BooleanField(null=True)
    malformed = models.BooleanField(default=False)
    content_truncated = models.BooleanField(
        default=False, help_text="The content was cut from the middle to fit the guard's token budget."
    )
    categories = models.JSONField(default=list)
    category_scores = models.JSONField(default=dict)
    score = models.FloatField(null=True)
    reasoning = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    error = models.TextField(blank=True)
    queue_ms = models.FloatField(null=True)
    inference_ms = models.FloatField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="decision_idempotency_key_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["verdict", "-created_at"]),
            models.Index(fields=["policy_version", "-created_at"]),
            # Only pending rows, a handful: the every-minute sweep for lost decisions reads them
            # without scanning the table (150-250 ms a minute on a million decisions), and a completion
            # leaves the index, so it stays small however many decisions there are.
            models.Index(
                fields=["created_at"], condition=models.Q(status="pending"), name="decision_pending_created_idx"
            ),
            # Malformed outputs, rare, listed by the audit's filter without reading every decision.
            models.Index(fields=["-created_at"], condition=models.Q(malformed=True), name="decision_malformed_idx"),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def latency_ms(self) -> float | None:
        if self.completed_at is None:
            return None
        return (self.completed_at - self.created_at).total_seconds() * 1000


class WebhookDelivery(models.Model):
    """The callback of a decision requested with async=true. Written with the decision (an outbox), so
    no crash between the decision's completion and the callback's queuing loses it: tried when the
    decision completes, then by the every-minute sweep until delivered, out of attempts, or skipped."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for the decision, or for its next attempt
        DELIVERED = "delivered"
        FAILED = "failed"  # out of attempts (WEBHOOK_MAX_ATTEMPTS)
        SKIPPED = "skipped"  # the key was revoked, or lost its webhook, before delivery

    decision = models.OneToOneField(Decision, on_delete=models.CASCADE, primary_key=True, related_name="webhook")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(help_text="The next attempt is not made before this.")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    attempt_started_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while an attempt is in flight (its lease runs until due_at)."
    )
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The sweep reads the pending ones that are due; delivered and failed ones leave the index.
            models.Index(fields=["due_at"], condition=models.Q(status="pending"), name="webhook_pending_due_idx"),
            # Those out of attempts, counted at every /metrics scrape and listed by the audit filter.
            models.Index(fields=["created_at"], condition=models.Q(status="failed"), name="webhook_failed_idx"),
        ]

    def __str__(self) -> str:
        return f"webhook of {self.decision_id}: {self.status}"

    @property
    def next_attempt_at(self) -> datetime | None:
        """When the next attempt may start: None once it is over, or while an attempt is in flight
        (its due_at is then the lease's end, not a time anyone waits for)."""
        if self.status != self.Status.PENDING:
            return None
        in_flight = self.attempt_started_at is not None and self.due_at > timezone.now()
        return None if in_flight else self.due_at


class ReviewItem(models.Model):
    """A decision a reviewer should look at, and why."""

    class Reason(models.TextChoices):
        MALFORMED = "malformed"
        FLAGGED = "flagged"
        UNCERTAIN = "uncertain"
        SAMPLED = "sampled"

    class Status(models.TextChoices):
        OPEN = "open"
        CLAIMED = "claimed"
        DONE = "done"

    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="review_item")
    reason = models.CharField(max_length=16, choices=Reason.choices)
    guard_verdict = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text="The decision's verdict, kept here (decisions are immutable) so the reviewers' figures need"
        " not read the decisions table; empty if the output was malformed.",
    )
    priority = models.PositiveSmallIntegerField(help_text="Higher is served first.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    labels_needed = models.PositiveSmallIntegerField(
        default=1, help_text="2 when a second, independent review is wanted."
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When the live claim was taken.")
    escalated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its independent labels disagreed: a further reviewer's label, given with the earlier"
        " ones in view, settles it.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-priority", "created_at"]
        indexes = [
            models.Index(fields=["status", "-priority", "created_at"]),
            # The escalated items, few, counted by the review stats after every claim and label.
            models.Index(
                fields=["escalated_at"], condition=models.Q(escalated_at__isnull=False), name="review_escalated_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"review of {self.decision_id} ({self.reason})"

    @property
    def current_status(self) -> str:
        """The status as the queue treats it now: a claim past its time is open again."""
        expired = self.claim_expires_at is not None and self.claim_expires_at < timezone.now()
        return self.Status.OPEN if self.status == self.Status.CLAIMED and expired else self.status


class ReviewSkip(models.Model):
    """A reviewer gave an item back unlabelled. For REVIEW_SKIP_MINUTES their next claims pass over it,
    so a skip moves them on to another item, while every other reviewer can still take it."""

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="skips")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    skipped_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "reviewer"], name="review_skip_one_per_reviewer")]

    def __str__(self) -> str:
        return f"{self.item_id} skipped by {self.reviewer_id}"


class ReviewLabel(models.Model):
    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="labels")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_labels")
    verdict = models.CharField(max_length=16)
    categories = models.JSONField(default=list)
    rationale = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(
        help_text="1 for the item's first label, 2 for its second (independent) one, 3 for the label that settled"
        " their disagreement."
    )
    claimed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the reviewer claimed the item: the label took them from then until created_at.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["item", "reviewer"], name="review_label_one_per_reviewer"),
            # Also the index by which the review stats pair each second label with the first.
            models.UniqueConstraint(fields=["item", "position"], name="review_label_one_per_position"),
        ]
        # The review stats count the labels given in a period, and the reviewers' figures group them.
        indexes = [models.Index(fields=["created_at"], name="review_label_created_idx")]

    def __str__(self) -> str:
        return f"{self.verdict} by {self.reviewer_id}"


class Case(models.Model):
    """A labelled example: from a review, or imported. Training and backtests read these."""

    class Source(models.TextChoices):
        REVIEW = "review"
        IMPORT = "import"

    class Split(models.TextChoices):
        TRAIN = "train"
        EVAL = "eval"

    source = models.CharField(max_length=16, choices=Source.choices)
    messages = models.JSONField()
    target = models.CharField(max_length=16, default="prompt")
    verdict = models.CharField(max_length=16)
    categories = models.JSONField(default=list)
    rationale = models.TextField(blank=True)
    policy_version = models.ForeignKey(
        "policies_app.PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    decision = models.ForeignKey(Decision, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases")
    # A review's case keeps what the guard said and why the item went to review, so how often reviewers
    # overturn the guard is read from the cases alone (joining a million decisions took 0.4 s a call).
    guard_verdict = models.CharField(max_length=16, blank=True, help_text="The guard's verdict; empty if malformed.")
    guard_model = models.ForeignKey(
        "training_worker.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_reason = models.CharField(max_length=16, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_hash = models.CharField(max_length=64, db_index=True)
    split = models.CharField(max_length=8, choices=Split.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        # The export reads cases newest first, a chunk at a time from where the last ended.
        indexes = [models.Index(fields=["created_at"], name="case_created_idx")]

    def __str__(self) -> str:
        return f"{self.verdict} case {self.pk}"

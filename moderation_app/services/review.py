"""Writes for the review queue and the labelled cases it produces."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from config.errors import ApiError
from moderation_app.models import Case, Decision, ReviewItem, ReviewLabel, ReviewSkip
from moderation_app.selectors import labels_disagree, review_waiting
from policies_app.models import PolicyVersion

PRIORITY = {
    ReviewItem.Reason.MALFORMED: 3,
    ReviewItem.Reason.FLAGGED: 2,
    ReviewItem.Reason.UNCERTAIN: 1,
    ReviewItem.Reason.SAMPLED: 0,
}
# Reviewers who disagreed are waiting on it, and until it is settled the item trains nothing.
ESCALATED_PRIORITY = 4


def review_reason(*, decision: Decision, sample: float) -> str | None:
    """Why a completed decision needs a person, or None. `sample` is a uniform draw in [0, 1)."""
    if decision.malformed:
        return ReviewItem.Reason.MALFORMED
    if decision.verdict == "unsafe":
        return ReviewItem.Reason.FLAGGED
    if decision.score is not None and settings.REVIEW_UNCERTAIN_LOW <= decision.score <= settings.REVIEW_UNCERTAIN_HIGH:
        return ReviewItem.Reason.UNCERTAIN
    if sample < settings.REVIEW_SAMPLE_RATE:  # safe decisions, sampled to catch false negatives
        return ReviewItem.Reason.SAMPLED
    return None


def review_item_build(*, decision: Decision, rand: Callable[[], float] = random.random) -> ReviewItem | None:
    """The review item a just-completed decision needs, unsaved, or None when it needs no person.
    The caller writes it together with the decision's completion, so neither exists without the other."""
    if decision.source != Decision.Source.API:
        return None  # playground runs stay out of production review
    reason = review_reason(decision=decision, sample=rand())
    if reason is None:
        return None
    return ReviewItem(
        decision=decision,
        reason=reason,
        guard_verdict=decision.verdict,
        priority=PRIORITY[ReviewItem.Reason(reason)],
        labels_needed=2 if rand() < settings.REVIEW_SECOND_OPINION_RATE else 1,
    )


def review_claim_next(*, reviewer: User) -> ReviewItem | None:
    """Claim the most urgent open item this reviewer has not labelled nor lately skipped. Rows locked
    by another reviewer's claim in flight are passed over, so two reviewers never get the same item."""
    now = timezone.now()
    with transaction.atomic():
        # A reload or a second press while a claim is live gives that item back, rather than
        # locking a second one away from everyone for REVIEW_CLAIM_MINUTES.
        held = (
            ReviewItem.objects.select_for_update()
            .filter(status=ReviewItem.Status.CLAIMED, claimed_by=reviewer, claim_expires_at__gte=now)
            .order_by("-priority", "created_at")
            .first()
        )
        if held is not None:
            return held
        skipped_since = now - timedelta(minutes=settings.REVIEW_SKIP_MINUTES)
        skipped = ReviewSkip.objects.filter(item=OuterRef("pk"), reviewer=reviewer, skipped_at__gte=skipped_since)
        item = (
            review_waiting(now=now)
            .select_for_update(skip_locked=True)
            .exclude(labels__reviewer=reviewer)
            .filter(~Exists(skipped))
            .order_by("-priority", "created_at")
            .first()
        )
        if item is None:
            return None
        item.status = ReviewItem.Status.CLAIMED
        item.claimed_by = reviewer
        item.claim_expires_at = now + timedelta(minutes=settings.REVIEW_CLAIM_MINUTES)
        item.claimed_at = now
        item.save(update_fields=["status", "claimed_by", "claim_expires_at", "claimed_at"])
    return item


def review_release(*, item: ReviewItem, reviewer: User) -> ReviewItem:
    """Give a claimed item back (skip): it is open to every reviewer again, and this one's next claims
    pass over it for REVIEW_SKIP_MINUTES. Before, it stayed the most urgent item, so the reviewer's
    next claim was the item they had just skipped."""
    with transaction.atomic():
        updated = ReviewItem.objects.filter(pk=item.pk, status=ReviewItem.Status.CLAIMED, claimed_by=reviewer).update(
            status=ReviewItem.Status.OPEN, claimed_by=None, claim_expires_at=None, claimed_at=None
        )
        if not updated:
            raise ApiError(code="not_claimed", message="you do not hold a claim on this item", status_code=409)
        ReviewSkip.objects.update_or_create(item=item, reviewer=reviewer, defaults={"skipped_at": timezone.now()})
    item.refresh_from_db()
    return item


def review_label(
    *, item: ReviewItem, reviewer: User, verdict: str, categories: list[str], rationale: str
) -> ReviewLabel:
    """Record a reviewer's label on the item they hold. The item is done once it has the labels it
    needs, and its case is written then; independent labels that disagree escalate it instead."""
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update().select_related("decision__policy_version").get(pk=item.pk)
        if locked.status != ReviewItem.Status.CLAIMED or locked.claimed_by_id != reviewer.pk:
            raise ApiError(
                code="not_claimed", message="claim this item first (POST /api/v1/review/next/)", status_code=409
            )
        # A claim past its time that nobody else has taken since is still this reviewer's: refusing it
        # lost the rationale they spent the time on (another claim would clear the page's draft).
        codes = [c["code"] for c in locked.decision.policy_version.spec["categories"]]
        _check_label(verdict=verdict, categories=categories, codes=codes)
        earlier = list(locked.labels.order_by("position"))
        label = ReviewLabel.objects.create(
            item=locked,
            reviewer=reviewer,
            verdict=verdict,
            categories=categories,
            rationale=rationale,
            position=len(earlier) + 1,
            claimed_at=locked.claimed_at,
        )
        labels = [*earlier, label]
        locked.claimed_by, locked.claim_expires_at, locked.claimed_at = None, None, None
        fields = ["status", "claimed_by", "claim_expires_at", "claimed_at"]
        if len(labels) < locked.labels_needed:
            locked.status = ReviewItem.Status.OPEN
        elif locked.escalated_at is None and labels_disagree(labels=[(x.verdict, x.categories) for x in labels]):
            _escalate(item=locked, labels_given=len(labels))
            fields += ["labels_needed", "escalated_at", "priority"]
        else:
            locked.status, locked.done_at = ReviewItem.Status.DONE, timezone.now()
            fields.append("done_at")
            # The adjudicator's label, this one, settles an escalated item; otherwise the labels agree.
            _review_case_create(item=locked, label=label if locked.escalated_at else labels[0])
        locked.save(update_fields=fields)
    return label


def _escalate(*, item: ReviewItem, labels_given: int) -> None:
    """Back to the queue, ahead of everything else, for one more reviewer who has not labelled it.
    Training takes no side meanwhile: the item's case is written only when that label settles it."""
    item.status = ReviewItem.Status.OPEN
    item.labels_needed = labels_given + 1
    item.escalated_at = timezone.now()
    item.priority = ESCALATED_PRIORITY


def _review_case_create(*, item: ReviewItem, label: ReviewLabel) -> Case:
    decision = item.decision
    return case_create(
        source=Case.Source.REVIEW,
        messages=decision.messages,
        target=decision.target,
        verdict=label.verdict,
        categories=label.categories,
        rationale=label.rationale,
        policy_version=decision.policy_version,
        decision=decision,
        guard_verdict=decision.verdict,
        guard_model_id=decision.model_version_id,
        review_reason=item.reason,
    )


def _check_label(*, verdict: str, categories: list[str], codes: list[str]) -> None:
    errors = []
    if verdict not in ("safe", "unsafe"):
        errors.append({"field": "verdict", "message": "must be 'safe' or 'unsafe'", "code": "invalid"})
    unknown = [c for c in categories if c not in codes]
    if unknown:
        errors.append(
            {"field": "categories", "message": f"not in this policy version: {', '.join(unknown)}", "code": "invalid"}
        )
    if len(set(categories)) != len(categories):
        errors.append({"field": "categories", "message": "names a category more than once", "code": "invalid"})
    if verdict == "unsafe" and not categories:
        errors.append(
            {"field": "categories", "message": "an unsafe label needs at least one category", "code": "invalid"}
        )
    if verdict == "safe" and categories:
        errors.append({"field": "categories", "message": "a safe label takes no categories", "code": "invalid"})
    if errors:
        raise ApiError(code="invalid", message=f"{errors[0]['field']}: {errors[0]['message']}", errors=errors)


def content_hash(messages: list[dict[str, Any]], target: str) -> str:
    return hashlib.sha256(json.dumps([messages, target], sort_keys=True).encode("utf-8")).hexdigest()


def case_split(digest: str) -> str:
    """A stable train/eval split from the content hash: the same content always lands on the same side.

    >>> case_split("00" * 32), case_split("ff" * 32)
    ('eval', 'train')
    """
    bucket = int(digest[:8], 16) % 100
    return "eval" if bucket < settings.CASE_EVAL_PERCENT else "train"


def case_create(
    *,
    source: str,
    messages: list[dict[str, Any]],
    target: str,
    verdict: str,
    categories: list[str],
    rationale: str = "",
    policy_version: PolicyVersion | None = None,
    decision: Decision | None = None,
    external_id: str = "",
    metadata: dict[str, Any] | None = None,
    guard_verdict: str = "",
    guard_model_id: int | None = None,
    review_reason: str = "",
) -> Case:
    digest = content_hash(messages, target)
    return Case.objects.create(
        guard_verdict=guard_verdict,
        guard_model_id=guard_model_id,
        review_reason=review_reason,
        source=source,
        messages=messages,
        target=target,
        verdict=verdict,
        categories=categories,
        rationale=rationale,
        policy_version=policy_version,
        decision=decision,
        external_id=external_id,
        metadata=metadata or {},
        content_hash=digest,
        split=case_split(digest),
    )

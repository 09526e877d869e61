"""Writes for API keys and staff accounts."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.actors import Actor
from config.errors import ApiError
from moderation_app.models import ApiKey, Decision
from moderation_app.selectors import KEY_PREFIX, api_key_hash
from policies_app.models import Policy, PolicyVersion
from training_worker.guard import TEMPLATE_VERSION
from training_worker.models import ModelVersion

LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_create(
    *, name: str, policy: Policy | None, actor: Actor, rate_limit_per_minute: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key; the returned token is the only time the secret exists in clear."""
    name = name.strip()
    if not name:
        raise ApiError(code="invalid", message="name: an API key needs a name")
    rate = rate_limit_per_minute or settings.API_KEY_DEFAULT_RATE_PER_MINUTE
    if rate < 1:
        raise ApiError(code="invalid", message="rate_limit_per_minute: must be at least 1")
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=api_key_hash(token),
        policy=policy,
        rate_limit_per_minute=rate,
        created_by=actor,
    )
    return key, token


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, at most once a minute per key, so authentication does not write on every call."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now


def user_ensure_demo_admin(*, username: str, password_file: Path) -> tuple[AbstractUser, str, bool]:
    """The demo superuser for a local install: a random password, made once and kept in `password_file`."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is not None and password_file.exists():
            return user, password_file.read_text(encoding="utf-8").strip(), False
        password = secrets.token_urlsafe(12)
        if user is None:
            user = User.objects.create_superuser(username=username, email="", password=password)
            created = True
        else:
            # The password file was lost: issue a new password rather than print one we cannot know.
            user.set_password(password)
            user.save(update_fields=["password"])
            created = False
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
    return user, password, created


# --- Decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModerationInput:
    messages: list[dict[str, str]]
    target: str
    reasoning: str
    external_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def moderation_request_hash(*, policy_version: PolicyVersion, request: ModerationInput) -> str:
    """What makes two requests the same, for Idempotency-Key checks."""
    payload = {
        "policy": policy_version.policy_id,
        "version": policy_version.number,
        "messages": request.messages,
        "target": request.target,
        "reasoning": request.reasoning,
        "external_id": request.external_id,
        "metadata": request.metadata,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def decision_record(
    *,
    api_key: ApiKey | None,
    actor: Actor,
    policy_version: PolicyVersion,
    request: ModerationInput,
    idempotency_key: str = "",
    source: str = Decision.Source.API,
) -> tuple[Decision, bool]:
    """Store the request as a pending decision, then queue it for the guard. Returns (decision, created).

    A repeated Idempotency-Key with the same request returns the first decision and queues nothing;
    with a different request it is refused (422).
    """
    digest = moderation_request_hash(policy_version=policy_version, request=request)
    if idempotency_key:
        existing = Decision.objects.filter(api_key=api_key, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _same_request(existing, digest), False
    try:
        with transaction.atomic():
            decision = Decision.objects.create(
                source=source,
                api_key=api_key,
                created_by=actor,
                policy_version=policy_version,
                template_version=TEMPLATE_VERSION,
                messages=request.messages,
                target=request.target,
                reasoning_mode=request.reasoning,
                external_id=request.external_id,
                metadata=request.metadata,
                idempotency_key=idempotency_key,
                request_hash=digest,
            )
    except IntegrityError:  # the same key arrived twice at once: the first one wins
        existing = Decision.objects.get(api_key=api_key, idempotency_key=idempotency_key)
        return _same_request(existing, digest), False
    transaction.on_commit(lambda: _enqueue_decision(decision.pk))
    return decision, True


def _same_request(existing: Decision, digest: str) -> Decision:
    if existing.request_hash != digest:
        raise ApiError(
            code="idempotency_key_reused",
            message="this Idempotency-Key was used for a different request",
            status_code=422,
        )
    return existing


def _enqueue_decision(decision_id: uuid.UUID) -> None:
    from training_worker.tasks.guard import moderate_decision

    # The task id is the decision id, so the API can wait on it by id.
    moderate_decision.apply_async(args=(str(decision_id),), task_id=str(decision_id))


@dataclass(frozen=True)
class Verdict:
    """The guard's judgement of a decision, as the worker hands it over."""

    verdict: str | None
    flagged: bool
    categories: list[str]
    category_scores: dict[str, float]
    score: float
    reasoning: str
    raw_output: str
    error: str | None
    inference_ms: float
    truncated: bool = False


def decision_complete(
    *, decision: Decision, verdict: Verdict, model_version: ModelVersion, started_at: datetime
) -> Decision:
    """Write the judgement once. A decision that is no longer pending is left as it is."""
    Decision.objects.filter(pk=decision.pk, status=Decision.Status.PENDING).update(
        status=Decision.Status.COMPLETED,
        verdict=verdict.verdict or "",
        flagged=verdict.flagged,
        malformed=verdict.error is not None,
        content_truncated=verdict.truncated,
        categories=verdict.categories,
        category_scores=verdict.category_scores,
        score=verdict.score,
        reasoning=verdict.reasoning,
        raw_output=verdict.raw_output,
        error=verdict.error or "",
        model_version=model_version,
        template_version=model_version.template_version,
        queue_ms=(started_at - decision.created_at).total_seconds() * 1000,
        inference_ms=verdict.inference_ms,
        completed_at=timezone.now(),
    )
    decision.refresh_from_db()
    return decision


def decision_fail(*, decision: Decision, error: str) -> Decision:
    """No guard could judge it: fail closed, so a caller polling it never reads it as safe."""
    Decision.objects.filter(pk=decision.pk, status=Decision.Status.PENDING).update(
        status=Decision.Status.FAILED, flagged=True, error=error, completed_at=timezone.now()
    )
    decision.refresh_from_db()
    return decision

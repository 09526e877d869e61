"""Writes for decisions: record a request, complete it with the guard's judgement, or fail it."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from config.actors import Actor
from config.db import update_then_insert
from config.errors import ApiError
from moderation_app.answers import decision_answer_key
from moderation_app.models import ApiKey, Decision
from moderation_app.services.review import review_item_build
from moderation_app.snapshot import decision_snapshot
from policies_app.models import PolicyVersion
from training_worker.guard import TEMPLATE_VERSION
from training_worker.guard.types import GuardResult
from training_worker.models import ModelVersion


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
    callback: bool = False,
    enqueue: bool = True,
    answer: bool = False,
) -> tuple[Decision, bool]:
    """Store the request as a pending decision, then queue it for the guard. Returns (decision, created).

    A repeated Idempotency-Key with the same request returns the first decision and queues nothing;
    with a different request it is refused (422). With `enqueue=False` the caller queues it, e.g.
    with `decisions_enqueue_batch`. With `answer`, the caller waits for the guard: its task then
    returns the decision as the API answers it.
    """
    digest = moderation_request_hash(policy_version=policy_version, request=request)
    if idempotency_key:
        existing = Decision.objects.filter(api_key=api_key, idempotency_key=idempotency_key).first()
        if existing is not None:
            return _same_request(existing, digest), False
    fields: dict[str, Any] = {
        "source": source,
        "api_key": api_key,
        "created_by": actor,
        "policy_version": policy_version,
        "template_version": TEMPLATE_VERSION,
        "messages": request.messages,
        "target": request.target,
        "reasoning_mode": request.reasoning,
        "external_id": request.external_id,
        "metadata": request.metadata,
        "idempotency_key": idempotency_key,
        "request_hash": digest,
        "callback": callback and api_key is not None and bool(api_key.webhook_url),
    }
    if not idempotency_key:  # one INSERT, no transaction of its own: the hot path of every API call
        decision = Decision.objects.create(**fields)
    else:
        try:
            with transaction.atomic():
                decision = Decision.objects.create(**fields)
        except IntegrityError:  # the same key arrived twice at once: the first one wins
            existing = Decision.objects.get(api_key=api_key, idempotency_key=idempotency_key)
            return _same_request(existing, digest), False
    if enqueue:
        transaction.on_commit(lambda: _enqueue_decision(decision, answer=answer))
    return decision, True


def _same_request(existing: Decision, digest: str) -> Decision:
    if existing.request_hash != digest:
        raise ApiError(
            code="idempotency_key_reused",
            message="this Idempotency-Key was used for a different request",
            status_code=422,
        )
    return existing


def _enqueue_decision(decision: Decision, *, answer: bool) -> None:
    from training_worker.tasks.guard import moderate_decision

    # The task id is the decision id, so the API can wait on it by id. The version's digest lets the
    # worker use the version it has already read, and the snapshot spares it reading the decision.
    version = decision.policy_version
    snapshot = decision_snapshot(decision=decision)
    kwargs = {
        "answer": answer,
        "policy_version": [version.pk, version.sha256],
        "answer_to": decision_answer_key(decision_id=decision.pk) if answer else None,
    }
    moderate_decision.apply_async(
        args=(str(decision.pk),),
        kwargs={**kwargs, "snapshot": snapshot},
        task_id=str(decision.pk),
        # What monitoring shows of the message (Celery writes it into the headers): the content stays out.
        kwargsrepr=repr({**kwargs, "snapshot": f"<{len(snapshot)} characters>" if snapshot else None}),
    )  # type: ignore[call-arg]  # Celery takes `kwargsrepr`; its type stubs do not list it


def decisions_enqueue_batch(*, decisions: list[Decision]) -> str:
    """Queue pending decisions as one guard task, so the worker judges them in shared batches.

    Returns the task's id, which callers wait on.
    """
    from training_worker.tasks.guard import moderate_batch

    task_id = str(uuid.uuid4())
    ids = [str(d.pk) for d in decisions if d.status == Decision.Status.PENDING]
    if ids:
        transaction.on_commit(lambda: moderate_batch.apply_async(args=(ids,), task_id=task_id))
    return task_id


def decision_complete(
    *, decision: Decision, result: GuardResult, model_version: ModelVersion, started_at: datetime
) -> Decision:
    """Write the judgement once, and its review item with it when it needs a person, so a completed
    decision that needs one always has it. A decision that is no longer pending is left as it is (a
    redelivered task) and returned as stored."""
    now = timezone.now()
    fields: dict[str, Any] = {
        "status": Decision.Status.COMPLETED,
        "verdict": result.verdict or "",
        "flagged": result.flagged,
        "malformed": result.malformed,
        "content_truncated": result.truncated,
        "categories": result.categories,
        "category_scores": result.category_scores,
        "score": result.score,
        "reasoning": result.reasoning,
        "raw_output": result.raw_output,
        "error": result.error or "",
        "model_version": model_version,
        "template_version": model_version.template_version,
        "queue_ms": (started_at - decision.created_at).total_seconds() * 1000,
        "inference_ms": result.inference_ms,
        "completed_at": now,
    }
    return _decision_finish(decision=decision, fields=fields)


def decision_fail(*, decision: Decision, error: str) -> Decision:
    """No guard could judge it: fail closed, so a caller polling it never reads it as safe."""
    fields: dict[str, Any] = {
        "status": Decision.Status.FAILED,
        "flagged": True,
        "error": error,
        "completed_at": timezone.now(),
    }
    return _decision_finish(decision=decision, fields=fields)


def _decision_finish(*, decision: Decision, fields: dict[str, Any]) -> Decision:
    for name, value in fields.items():
        setattr(decision, name, value)
    item = review_item_build(decision=decision)
    pending = Decision.objects.filter(pk=decision.pk, status=Decision.Status.PENDING)
    # One statement either way: the guard's hot path makes one round trip to the database here.
    finished = update_then_insert(rows=pending, values=fields, obj=item) if item else pending.update(**fields)
    if not finished:
        decision.refresh_from_db()
        return decision
    # Known now: rendering the decision (the guard task's answer) need not look for an item.
    Decision.review_item.related.set_cached_value(decision, item)
    _schedule_callback(decision)
    return decision


def _schedule_callback(decision: Decision) -> None:
    if not decision.callback:
        return
    from moderation_app.tasks import deliver_decision_webhook

    transaction.on_commit(lambda: deliver_decision_webhook.delay(str(decision.pk)))

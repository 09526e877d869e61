"""Writes for decisions: record a request, complete it with the guard's judgement, or fail it."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from config.actors import Actor
from config.celery import guard_queue_depths
from config.db import insert_unflushed, update_then_insert
from config.errors import ApiError
from config.fields import storable_text
from moderation_app.answers import decision_answer_key
from moderation_app.models import ApiKey, Decision
from moderation_app.selectors import decisions_pending_since
from moderation_app.services.review import review_item_build
from moderation_app.services.webhooks import webhook_delivery_create, webhook_delivery_queue
from moderation_app.snapshot import decision_snapshot
from policies_app.models import PolicyVersion
from training_worker.guard import TEMPLATE_VERSION
from training_worker.guard.types import GuardResult
from training_worker.models import ModelVersion

logger = logging.getLogger(__name__)


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
    if fields["callback"]:
        # The decision and its delivery are written together, or neither (an outbox: see webhooks.py).
        with transaction.atomic():
            decision, created = _decision_insert(fields, api_key=api_key, idempotency_key=idempotency_key)
            if created:
                webhook_delivery_create(decision=decision)
        if not created:
            return _same_request(decision, digest), False
    elif not idempotency_key:  # one INSERT, no transaction of its own: the hot path of every API call
        decision = Decision(**fields)
        if answer:
            # The caller hears nothing before the guard's durable completion (whose flush covers this
            # INSERT) or `decisions_persist`, so this commit need not wait for the disk.
            insert_unflushed(obj=decision)
        else:
            decision.save(force_insert=True)
    else:
        decision, created = _decision_insert(fields, api_key=api_key, idempotency_key=idempotency_key)
        if not created:
            return _same_request(decision, digest), False
    if enqueue:
        transaction.on_commit(lambda: _enqueue_decision(decision, answer=answer))
    return decision, True


def _decision_insert(fields: dict[str, Any], *, api_key: ApiKey | None, idempotency_key: str) -> tuple[Decision, bool]:
    """The new decision, or the one an Idempotency-Key that arrived twice at once wrote first."""
    try:
        with transaction.atomic():
            return Decision.objects.create(**fields), True
    except IntegrityError:
        if not idempotency_key:
            raise
        return Decision.objects.get(api_key=api_key, idempotency_key=idempotency_key), False


def _same_request(existing: Decision, digest: str) -> Decision:
    if existing.request_hash != digest:
        raise ApiError(
            code="idempotency_key_reused",
            message="this Idempotency-Key was used for a different request",
            status_code=422,
        )
    return existing


def _enqueue_decision(decision: Decision, *, answer: bool, snapshot: bool = True) -> None:
    from training_worker.tasks.guard import moderate_decision

    # The task id is the decision id, so the API can wait on it by id. The version's digest lets the
    # worker use the version it has already read, and the snapshot spares it reading the decision.
    version = decision.policy_version
    written = decision_snapshot(decision=decision) if snapshot else None
    kwargs = {
        "answer": answer,
        "policy_version": [version.pk, version.sha256],
        "answer_to": decision_answer_key(decision_id=decision.pk) if answer else None,
    }
    _publish(
        lambda: moderate_decision.apply_async(  # type: ignore[call-arg]  # Celery takes `kwargsrepr`; its stubs do not list it
            args=(str(decision.pk),),
            kwargs={**kwargs, "snapshot": written},
            task_id=str(decision.pk),
            queue=guard_queue(waited_for=answer),
            # What monitoring shows of the message (Celery writes it into the headers): the content stays out.
            kwargsrepr=repr({**kwargs, "snapshot": f"<{len(written)} characters>" if written else None}),
        ),
        decision_ids=[str(decision.pk)],
        waited_for=answer,
    )


def guard_queue(*, waited_for: bool) -> str:
    """The guard queue for a task: its own for one a caller waits on, so a bulk backlog never delays it."""
    return settings.GUARD_QUEUE if waited_for else settings.GUARD_BULK_QUEUE


def _publish(send: Callable[[], object], *, decision_ids: list[str], waited_for: bool) -> None:
    """Queue a guard task. Its decisions are already stored: when the broker cannot take the message
    they stay pending, and `decisions_recover_lost` queues them once it can. A caller that waits for
    the answer hears at once that none is coming soon (503, with where to look later); one that did
    not wait keeps its 202, and its decision is judged later."""
    try:
        send()
    except BrokerError as exc:
        logger.error("the broker did not take the guard task for %s: %s", ", ".join(decision_ids), exc)
        if waited_for:
            raise decisions_defer(decision_ids=decision_ids, why="the guard's queue cannot be reached") from exc


def decisions_defer(*, decision_ids: list[str], why: str) -> ApiError:
    """Make pending decisions durable and return the 503 that tells their waiting caller they are
    kept and judged later, when the guard cannot judge them now (`why`)."""
    decisions_persist(decision_ids=decision_ids)
    first = decision_ids[0]
    return ApiError(
        code="guard_unavailable",
        message=f"{why}; decision {first} is recorded and is judged later: GET /api/v1/decisions/{{id}}/",
        status_code=503,
        headers={"Retry-After": "30", "Location": f"/api/v1/decisions/{first}/"},
    )


def decisions_persist(*, decision_ids: list[str]) -> None:
    """Make pending decisions durable before a caller hears that they are kept and judged later.

    A synchronous call's INSERT does not wait for the disk (`decision_record`). Rewriting the rows'
    status as it is makes one durable commit, whose flush covers those INSERTs; a decision no longer
    pending has already had its durable completion.
    """
    Decision.objects.filter(pk__in=decision_ids, status=Decision.Status.PENDING).update(status=Decision.Status.PENDING)


def decisions_enqueue_batch(*, decisions: list[Decision], waited_for: bool = False) -> str:
    """Queue pending decisions as one guard task, so the worker judges them in shared batches.

    Returns the task's id, which callers wait on; with `waited_for`, a broker that cannot take the
    task is a 503 (see `_publish`).
    """
    from training_worker.tasks.guard import moderate_batch

    task_id = str(uuid.uuid4())
    ids = [str(d.pk) for d in decisions if d.status == Decision.Status.PENDING]
    if ids:

        def send() -> None:
            moderate_batch.apply_async(args=(ids,), task_id=task_id, queue=guard_queue(waited_for=waited_for))

        transaction.on_commit(lambda: _publish(send, decision_ids=ids, waited_for=waited_for))
    return task_id


def decisions_recover_lost(*, older_than: timedelta, limit: int = 500) -> list[str]:
    """Queue again the pending decisions whose guard task was lost; returns their ids.

    A task is lost when the broker never took it (it was down when the decision was recorded) or
    dropped it (a Redis restarted without persistence). A decision still pending after `older_than`
    while the guard queues hold no message is taken for such a one. While they hold a backlog, its
    message is most likely still in it, and nothing is queued. The new message goes to the bulk queue
    and carries no snapshot, so the worker reads the row, and a decision completed in the meantime is
    skipped.
    """
    if any(guard_queue_depths().values()):
        return []
    lost = decisions_pending_since(before=timezone.now() - older_than, limit=limit)
    for decision in lost:
        _enqueue_decision(decision, answer=False, snapshot=False)
    return [str(decision.pk) for decision in lost]


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
        # What the model wrote may hold what no text column stores (a token that decodes to NUL):
        # left in, the completion failed, and the decision was queued again for ever.
        "reasoning": storable_text(result.reasoning),
        "raw_output": storable_text(result.raw_output),
        "error": storable_text(result.error or ""),
        "model_version": model_version,
        "template_version": model_version.template_version,
        "queue_ms": (started_at - decision.created_at).total_seconds() * 1000,
        "inference_ms": result.inference_ms,
        "completed_at": now,
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
    """Queue the first attempt of the decision's webhook once its completion commits."""
    if decision.callback:
        webhook_delivery_queue(decision_id=str(decision.pk))

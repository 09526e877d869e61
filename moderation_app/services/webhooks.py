"""Signed webhook callbacks: a decision requested with async=true is posted to its key's webhook.

The receiver checks `X-Arbiter-Signature: sha256=HEX`, the HMAC-SHA256 of `"{timestamp}.{body}"`
with the key's webhook secret, where the timestamp is `X-Arbiter-Timestamp` (README, "Webhooks").

A delivery is a row written with its decision (`WebhookDelivery`). An attempt first claims the row
for a lease, so the attempt queued at completion and the every-minute sweep never both post it; a
failed attempt sets when the next one is due, and the sweep queues it then.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from config.errors import ApiError
from moderation_app.models import Decision, WebhookDelivery

# Long enough for an attempt and its bookkeeping: a claimed delivery is not claimed again before.
LEASE_S = 120
FIRST_RETRY_S = 60
LONGEST_WAIT_S = 3600
USER_AGENT = "arbiter-webhooks/1"
logger = logging.getLogger(__name__)


class WebhookDeliveryError(RuntimeError):
    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """
    >>> webhook_signature(secret="s", timestamp="1", body=b"{}")[:16]
    'sha256=b253639bc'
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_url_problem(url: str) -> str | None:
    """Why `url` cannot be a webhook, or None: only http(s) to a host, without credentials in it
    (they would show in the key list and every error, and are not sent as authentication).

    >>> webhook_url_problem("https://hooks.example.com/arbiter?team=ts") is None
    True
    >>> webhook_url_problem("ftp://example.com/x"), webhook_url_problem("https://u:p@example.com/")
    ('must be an http:// or https:// URL', 'must not hold a user name or password')
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (reading it checks it)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user name or password"
    return None


def webhook_retry_wait(*, attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again: doubling from a
    minute, at most an hour (12 attempts span about 6 hours).

    >>> [int(webhook_retry_wait(attempts=n).total_seconds() // 60) for n in (1, 2, 3, 7, 11)]
    [1, 2, 4, 60, 60]
    """
    return timedelta(seconds=min(FIRST_RETRY_S * 2 ** (attempts - 1), LONGEST_WAIT_S))


def webhook_delivery_create(*, decision: Decision) -> WebhookDelivery:
    """The delivery of a decision requested with a callback; the caller writes it with the decision."""
    return WebhookDelivery.objects.create(decision=decision, due_at=decision.created_at or timezone.now())


def webhook_delivery_claim(*, decision_id: str, now: datetime | None = None) -> WebhookDelivery | None:
    """Claim the decision's delivery for one attempt, if it is due and its decision is complete: the
    attempt is counted and the row leased, so no other attempt starts before it ends. None otherwise."""
    now = now or timezone.now()
    claimed = (
        _due(now)
        .filter(decision_id=decision_id)
        .update(due_at=now + timedelta(seconds=LEASE_S), attempts=F("attempts") + 1, attempt_started_at=now)
    )
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related(
        "decision__api_key", "decision__policy_version__policy", "decision__model_version"
    ).get(decision_id=decision_id)


def webhook_delivery_attempt(*, delivery: WebhookDelivery, payload: dict[str, Any]) -> WebhookDelivery:
    """Post a claimed delivery and record how it went: delivered; failed for good after
    WEBHOOK_MAX_ATTEMPTS; due again after `webhook_retry_wait`; or skipped when its key was revoked
    (or lost its webhook) since the request, so a leaked key's receiver gets nothing more."""
    key = delivery.decision.api_key
    now = timezone.now()
    if key is None or key.revoked_at is not None or not key.webhook_url:
        why = "the API key no longer has a webhook" if key is not None and key.is_active else "the API key was revoked"
        return _delivery_close(delivery, status=WebhookDelivery.Status.SKIPPED, error=why)
    try:
        code = webhook_post(url=key.webhook_url, secret=key.webhook_secret, payload=payload)
    except WebhookDeliveryError as exc:
        delivery.last_status_code = exc.status_code
        if delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            return _delivery_close(delivery, status=WebhookDelivery.Status.FAILED, error=str(exc))
        delivery.last_error = str(exc)[:1000]
        delivery.due_at = now + webhook_retry_wait(attempts=delivery.attempts)
        delivery.attempt_started_at = None
        delivery.save(update_fields=["last_status_code", "last_error", "due_at", "attempt_started_at"])
        return delivery
    delivery.last_status_code, delivery.delivered_at = code, now
    return _delivery_close(delivery, status=WebhookDelivery.Status.DELIVERED, error="")


def _delivery_close(delivery: WebhookDelivery, *, status: str, error: str) -> WebhookDelivery:
    delivery.status, delivery.last_error, delivery.attempt_started_at = status, error[:1000], None
    delivery.save(update_fields=["status", "last_error", "last_status_code", "delivered_at", "attempt_started_at"])
    return delivery


def webhook_delivery_retry(*, decision: Decision) -> WebhookDelivery:
    """Try a failed delivery again (after a receiver's outage longer than its attempts lasted): it is
    due now, with WEBHOOK_MAX_ATTEMPTS attempts again. Only a failed one: a pending one is still being
    tried, a delivered one arrived, and a skipped one's key was revoked."""
    delivery = WebhookDelivery.objects.filter(decision=decision).first()
    if delivery is None:
        raise ApiError(code="not_found", message=f"decision {decision.pk} has no webhook", status_code=404)
    # A new series of attempts: the old outage's error and status would read as this series' own.
    retried = WebhookDelivery.objects.filter(pk=delivery.pk, status=WebhookDelivery.Status.FAILED).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, due_at=timezone.now(), last_error="", last_status_code=None
    )
    if not retried:
        raise ApiError(
            code="not_failed",
            message=f"this webhook is {delivery.status}; only a failed one is tried again",
            status_code=409,
        )
    webhook_delivery_queue(decision_id=str(decision.pk))
    delivery.refresh_from_db()
    return delivery


def webhook_deliveries_due(*, limit: int = 500, now: datetime | None = None) -> list[str]:
    """Decision ids whose delivery is due, oldest first: a first attempt whose queuing was lost, or a
    retry whose wait is over."""
    due = _due(now or timezone.now()).order_by("due_at").values_list("pk", flat=True)[:limit]
    return [str(pk) for pk in due]


def _due(now: datetime) -> QuerySet[WebhookDelivery]:
    """Deliveries whose next attempt may start now: pending, past their wait or lease, and their
    decision complete."""
    return WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.PENDING, due_at__lte=now, decision__status=Decision.Status.COMPLETED
    )


def webhook_delivery_queue(*, decision_id: str) -> None:
    """Queue an attempt at the decision's delivery once the caller's transaction commits. A broker
    that refuses it fails nothing (the guard may have a batch to finish): the delivery row stays due,
    and the every-minute sweep queues it."""
    from moderation_app.tasks import deliver_decision_webhook

    def publish() -> None:
        try:
            deliver_decision_webhook.delay(decision_id)
        except Exception:
            logger.warning("could not queue the webhook of decision %s; the sweep will", decision_id, exc_info=True)

    transaction.on_commit(publish)


def webhook_post(*, url: str, secret: str, payload: dict[str, Any]) -> int:
    """POST the signed payload; the receiver's status when it is 2xx. Anything else, a redirect
    included (it is not followed: the body and signature would go where the key never named), or
    no answer within WEBHOOK_TIMEOUT_S in all, raises WebhookDeliveryError."""
    body = json.dumps({"type": "decision.completed", "decision": payload}, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Arbiter-Timestamp": timestamp,
        "X-Arbiter-Signature": webhook_signature(secret=secret, timestamp=timestamp, body=body),
    }
    code = _post_within(url=url, body=body, headers=headers, deadline_s=settings.WEBHOOK_TIMEOUT_S)
    if not 200 <= code < 300:
        kind = " (redirects are not followed)" if 300 <= code < 400 else ""
        raise WebhookDeliveryError(f"{url} answered {code}{kind}", status_code=code)
    return code


def _post_within(*, url: str, body: bytes, headers: dict[str, str], deadline_s: float) -> int:
    """The status of a POST, the whole exchange bounded by `deadline_s`: a socket timeout bounds
    each read only, and a receiver that sends a byte now and then would hold the worker for ever."""
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=deadline_s)
    late = threading.Event()

    def cut_off() -> None:
        late.set()
        with contextlib.suppress(OSError, AttributeError):  # not connected yet, or closed meanwhile
            connection.sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once

    timer = threading.Timer(deadline_s, cut_off)
    timer.start()
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        status = connection.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        if not late.is_set():
            raise WebhookDeliveryError(f"{url}: {exc}") from exc
    finally:
        timer.cancel()
        connection.close()
    if late.is_set():  # cut off mid-answer: the headers read so far can look like a whole answer
        raise WebhookDeliveryError(f"{url} did not answer within {deadline_s:g} s")
    return status

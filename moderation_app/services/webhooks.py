"""Signed webhook callbacks: a decision requested with async=true is posted to its key's webhook.

The receiver checks `X-Arbiter-Signature: sha256=HEX`, the HMAC-SHA256 of `"{timestamp}.{body}"`
with the key's webhook secret, where the timestamp is `X-Arbiter-Timestamp` (reject old ones).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from moderation_app.models import Decision

TIMEOUT_S = 5


class WebhookDeliveryError(RuntimeError):
    pass


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """
    >>> webhook_signature(secret="s", timestamp="1", body=b"{}")[:16]
    'sha256=b253639bc'
    """
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_deliver(*, decision: Decision, payload: dict[str, Any]) -> int:
    """POST the payload to the decision's key's webhook; returns the HTTP status. Raises on failure."""
    key = decision.api_key
    if key is None or not key.webhook_url:
        raise WebhookDeliveryError("the decision's API key has no webhook")
    body = json.dumps({"type": "decision.completed", "decision": payload}, sort_keys=True).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        key.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "arbiter-webhooks/1",
            "X-Arbiter-Timestamp": timestamp,
            "X-Arbiter-Signature": webhook_signature(secret=key.webhook_secret, timestamp=timestamp, body=body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookDeliveryError(f"{key.webhook_url} answered {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookDeliveryError(f"{key.webhook_url}: {exc}") from exc

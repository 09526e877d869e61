"""Signed webhook callbacks, delivered by a real worker to a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rest_framework.test import APIClient

from moderation_app.services import api_key_create
from moderation_app.services.webhooks import webhook_signature
from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"headers": dict(self.headers), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()


def test_an_async_decision_is_posted_signed_to_the_keys_webhook(
    receiver: tuple[str, list[dict[str, Any]]], guard_worker: Any, active_tiny_model: Any
) -> None:
    url, received = receiver
    policy, _ = policy_ensure_default()
    key, token = api_key_create(name="hooked", policy=policy, actor=None, webhook_url=url)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.post("/api/v1/moderate", {"input": "sync: no callback", "reasoning": "none"}, format="json")
    accepted = client.post(
        "/api/v1/moderate", {"input": "async one", "async": True, "reasoning": "none"}, format="json"
    )
    assert accepted.status_code == 202
    deadline = time.monotonic() + 60
    while not received and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # a wrongly sent callback for the sync request would have arrived by now
    assert len(received) == 1
    delivery = received[0]
    headers = {k.lower(): v for k, v in delivery["headers"].items()}
    expected = webhook_signature(
        secret=key.webhook_secret, timestamp=headers["x-arbiter-timestamp"], body=delivery["body"]
    )
    assert headers["x-arbiter-signature"] == expected
    payload = json.loads(delivery["body"])
    assert payload["type"] == "decision.completed"
    assert payload["decision"]["id"] == accepted.json()["id"]
    assert payload["decision"]["status"] == "completed"
    detail = client.get(f"/api/v1/decisions/{accepted.json()['id']}/").json()["webhook"]
    deadline = time.monotonic() + 10
    while detail["status"] == "pending" and time.monotonic() < deadline:  # the worker records it after the POST
        time.sleep(0.1)
        detail = client.get(f"/api/v1/decisions/{accepted.json()['id']}/").json()["webhook"]
    assert (detail["status"], detail["attempts"], detail["last_status_code"]) == ("delivered", 1, 204)
    assert detail["next_attempt_at"] is None

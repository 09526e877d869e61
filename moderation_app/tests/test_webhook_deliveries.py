"""Webhook deliveries: the outbox row, retries, the sweep, and what a receiver can and cannot make
the platform do. Receivers are fake HTTP servers on 127.0.0.1 in a thread: the edge these tests are
not about."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from rest_framework.test import APIClient

from config.celery import app
from moderation_app.models import ApiKey, Decision, WebhookDelivery
from moderation_app.services import (
    ModerationInput,
    api_key_create,
    api_key_revoke,
    api_key_update,
    decision_complete,
    decision_record,
)
from moderation_app.services.webhooks import (
    WebhookDeliveryError,
    webhook_delivery_claim,
    webhook_post,
    webhook_signature,
)
from moderation_app.tasks import deliver_decision_webhook, deliver_due_webhooks
from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_ensure_default
from training_worker.guard.engine import assemble_output
from training_worker.guard.types import GuardResult
from training_worker.services import model_version_register

pytestmark = pytest.mark.django_db(transaction=True)


class FakeReceiver:
    """A fake webhook receiver: records each request and answers `status` (with `location`)."""

    def __init__(self, status: int = 204, location: str = "") -> None:
        self.received: list[dict[str, Any]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                received.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.server.server_address[1]}/hook?team=ts"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[FakeReceiver]:
    fake = FakeReceiver()
    yield fake
    fake.close()


def _key(url: str) -> ApiKey:
    policy, _ = policy_ensure_default()
    return api_key_create(name="hooked", policy=policy, actor=None, webhook_url=url)[0]


def _dead_url() -> str:
    """A URL on which nothing listens: the connection is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def _callback_decision(key: ApiKey, *, complete: bool = True, text: str = "hello") -> Decision:
    """An async decision as the API records it, completed by a fake guard result; the first attempt
    its completion would queue is held back, as if the worker had died before queuing it."""
    policy, _ = policy_ensure_default()
    assert policy.published_version is not None
    decision, _ = decision_record(
        api_key=key,
        actor=None,
        policy_version=policy.published_version,
        request=ModerationInput(messages=[{"role": "user", "content": text}], target="prompt", reasoning="none"),
        callback=True,
        enqueue=False,
    )
    if complete:
        result = GuardResult(
            verdict="safe",
            score=0.1,
            categories=[],
            category_scores={},
            reasoning="fine",
            raw_output=assemble_output("fine", "safe", []),
            error=None,
            prompt_tokens=10,
            completion_tokens=2,
            inference_ms=1.0,
        )
        model = model_version_register(name=f"m-{decision.pk}", base="x", path="/m")
        with mock.patch.object(deliver_decision_webhook, "delay"):
            decision_complete(decision=decision, result=result, model_version=model, started_at=timezone.now())
    return decision


def _attempt(decision: Decision) -> str:
    return str(deliver_decision_webhook.apply(args=(str(decision.pk),)).get())


def _make_due(decision: Decision) -> None:
    WebhookDelivery.objects.filter(pk=decision.pk).update(due_at=timezone.now())


def test_the_delivery_is_written_with_the_decision_and_waits_for_its_completion(receiver: FakeReceiver) -> None:
    decision = _callback_decision(_key(receiver.url()), complete=False)
    assert WebhookDelivery.objects.get(pk=decision.pk).status == "pending"
    assert _attempt(decision) == "not due"
    assert receiver.received == []


def test_a_completed_decision_whose_first_attempt_was_never_queued_is_delivered_by_the_sweep(
    receiver: FakeReceiver,
) -> None:
    decision = _callback_decision(_key(receiver.url()))
    with mock.patch.object(deliver_decision_webhook, "delay", side_effect=lambda pk: _attempt(decision)) as queued:
        assert deliver_due_webhooks.apply().get() == 1
    assert [call.args for call in queued.call_args_list] == [(str(decision.pk),)]
    assert [(r["method"], r["path"]) for r in receiver.received] == [("POST", "/hook?team=ts")]
    assert WebhookDelivery.objects.get(pk=decision.pk).status == "delivered"
    assert deliver_due_webhooks.apply().get() == 0  # delivered once


def test_an_attempt_in_flight_cannot_be_claimed_twice(receiver: FakeReceiver) -> None:
    decision = _callback_decision(_key(receiver.url()))
    assert webhook_delivery_claim(decision_id=str(decision.pk)) is not None
    assert webhook_delivery_claim(decision_id=str(decision.pk)) is None
    assert _attempt(decision) == "not due"


def test_an_attempt_in_flight_shows_no_next_attempt_time_until_it_ends(settings: Any) -> None:
    """While an attempt is made, due_at is its lease's end: shown as a next attempt, it read as a wait."""
    staff = APIClient()
    staff.force_authenticate(UserFactory(is_superuser=True))
    decision = _callback_decision(_key(_dead_url()))
    assert webhook_delivery_claim(decision_id=str(decision.pk)) is not None
    webhook = staff.get(f"/api/v1/decisions/{decision.pk}/").json()["webhook"]
    assert (webhook["status"], webhook["in_flight"], webhook["next_attempt_at"]) == ("pending", True, None)

    WebhookDelivery.objects.filter(pk=decision.pk).update(due_at=timezone.now())  # the lease ran out
    assert _attempt(decision) == "pending"  # refused: due again in a minute
    webhook = staff.get(f"/api/v1/decisions/{decision.pk}/").json()["webhook"]
    assert (webhook["in_flight"], webhook["next_attempt_at"] is not None) == (False, True)


def test_a_failed_attempt_is_due_again_later_and_the_last_one_marks_the_delivery_failed(settings: Any) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    key = _key(_dead_url())
    decision = _callback_decision(key)
    assert _attempt(decision) == "pending"
    delivery = WebhookDelivery.objects.get(pk=decision.pk)
    assert delivery.attempts == 1
    assert "Connection refused" in delivery.last_error
    wait = (delivery.due_at - timezone.now()).total_seconds()
    assert 50 < wait <= 60  # the first retry waits a minute
    assert deliver_due_webhooks.apply().get() == 0  # not due yet

    _make_due(decision)
    assert _attempt(decision) == "failed"
    staff = APIClient()
    staff.force_authenticate(UserFactory(is_superuser=True))
    webhook = staff.get(f"/api/v1/decisions/{decision.pk}/").json()["webhook"]
    assert (webhook["status"], webhook["attempts"], webhook["next_attempt_at"]) == ("failed", 2, None)
    assert "Connection refused" in webhook["last_error"]
    listed = staff.get("/api/v1/decisions/", {"webhook": "failed"}).json()["results"]
    assert [d["id"] for d in listed] == [str(decision.pk)]
    assert deliver_due_webhooks.apply().get() == 0


def test_a_failed_delivery_can_be_tried_again_by_its_service(settings: Any, receiver: FakeReceiver) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    policy, _ = policy_ensure_default()
    key, token = api_key_create(name="hooked", policy=policy, actor=None, webhook_url=_dead_url())
    decision = _callback_decision(key)
    assert _attempt(decision) == "failed"
    service = APIClient()
    service.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    ApiKey.objects.filter(pk=key.pk).update(webhook_url=receiver.url())  # the receiver is back, elsewhere
    with mock.patch.object(deliver_decision_webhook, "delay") as queued:
        retried = service.post(f"/api/v1/decisions/{decision.pk}/webhook/retry/")
    assert retried.status_code == 202
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    # A new series: the outage's error would read as this series' own.
    assert (retried.json()["last_error"], retried.json()["last_status_code"]) == ("", None)
    assert [call.args for call in queued.call_args_list] == [(str(decision.pk),)]
    assert _attempt(decision) == "delivered"
    assert len(receiver.received) == 1
    assert service.get(f"/api/v1/decisions/{decision.pk}/").json()["webhook"]["status"] == "delivered"
    again = service.post(f"/api/v1/decisions/{decision.pk}/webhook/retry/")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "not_failed")


def test_only_the_decisions_own_key_or_staff_may_retry_its_webhook() -> None:
    key = _key(_dead_url())
    decision = _callback_decision(key)
    policy, _ = policy_ensure_default()
    _, other_token = api_key_create(name="other", policy=policy, actor=None)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_token}")
    assert other.post(f"/api/v1/decisions/{decision.pk}/webhook/retry/").status_code == 404
    staff = APIClient()
    staff.force_authenticate(UserFactory(roles=["reviewer"]))
    pending = staff.post(f"/api/v1/decisions/{decision.pk}/webhook/retry/")
    assert (pending.status_code, pending.json()["error"]["code"]) == (409, "not_failed")


def test_a_receiver_error_is_recorded_with_its_status(settings: Any) -> None:
    failing = FakeReceiver(status=503)
    try:
        decision = _callback_decision(_key(failing.url()))
        assert _attempt(decision) == "pending"
        delivery = WebhookDelivery.objects.get(pk=decision.pk)
        assert (delivery.last_status_code, delivery.last_error) == (503, f"{failing.url()} answered 503")
    finally:
        failing.close()


def test_a_redirect_is_neither_followed_nor_counted_as_delivered() -> None:
    elsewhere = FakeReceiver(status=200)
    redirecting = FakeReceiver(status=302, location=elsewhere.url(host="localhost"))
    try:
        with pytest.raises(WebhookDeliveryError, match="answered 302") as failed:
            webhook_post(url=redirecting.url(), secret="s", payload={"id": "x"})
        assert failed.value.status_code == 302
        assert len(redirecting.received) == 1
        assert elsewhere.received == []
    finally:
        redirecting.close()
        elsewhere.close()


def _trickling_receiver(*, every_s: float, lines: int) -> str:
    """A fake receiver that sends a header line every `every_s` seconds: never idle for a read timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(lines):
                time.sleep(every_s)
                conn.sendall(b"X-Slow: a\r\n")
            conn.sendall(b"Content-Length: 0\r\n\r\n")
        except OSError:
            pass  # the client gave up, as it should
        finally:
            conn.close()
            server.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/hook"


def test_a_receiver_that_trickles_its_answer_is_cut_off_at_the_timeout(settings: Any) -> None:
    settings.WEBHOOK_TIMEOUT_S = 1.0
    url = _trickling_receiver(every_s=0.3, lines=40)  # 12 s of answer, a line every 0.3 s
    started = time.monotonic()
    with pytest.raises(WebhookDeliveryError, match="did not answer within 1 s"):
        webhook_post(url=url, secret="s", payload={"id": "x"})
    assert time.monotonic() - started < 6  # cut off near 1 s, long before the answer's 12 s


def test_a_key_revoked_before_the_delivery_gets_nothing(receiver: FakeReceiver) -> None:
    key = _key(receiver.url())
    decision = _callback_decision(key)
    api_key_revoke(api_key=key, actor=None)
    assert _attempt(decision) == "skipped"
    assert receiver.received == []
    assert WebhookDelivery.objects.get(pk=decision.pk).last_error == "the API key was revoked"


def test_a_key_whose_webhook_was_removed_sends_its_pending_deliveries_nowhere(receiver: FakeReceiver) -> None:
    key = _key(receiver.url())
    decision = _callback_decision(key)
    api_key_update(api_key=key, actor=None, webhook_url="")
    assert _attempt(decision) == "skipped"
    assert receiver.received == []
    assert WebhookDelivery.objects.get(pk=decision.pk).last_error == "the API key no longer has a webhook"


def test_a_rotated_secret_signs_the_deliveries_still_pending(receiver: FakeReceiver) -> None:
    key = _key(receiver.url())
    old_secret = key.webhook_secret
    decision = _callback_decision(key)
    admin = APIClient()
    admin.force_authenticate(UserFactory(is_superuser=True))
    answer = admin.post(f"/api/v1/api-keys/{key.prefix}/rotate-webhook-secret/")
    assert answer.status_code == 200
    new_secret = answer.json()["webhook_secret"]
    assert new_secret != old_secret
    assert "webhook_secret" not in admin.get("/api/v1/api-keys/").json()[0]

    assert _attempt(decision) == "delivered"
    (request,) = receiver.received
    timestamp, signature = request["headers"]["X-Arbiter-Timestamp"], request["headers"]["X-Arbiter-Signature"]
    assert signature == webhook_signature(secret=new_secret, timestamp=timestamp, body=request["body"])
    assert signature != webhook_signature(secret=old_secret, timestamp=timestamp, body=request["body"])


def test_a_broker_that_cannot_take_a_webhook_does_not_stop_the_guard_completing_the_batch(
    active_tiny_model: Any,
) -> None:
    from training_worker.tasks.guard import moderate_batch

    key = _key("http://127.0.0.1:9/hook")
    first = _callback_decision(key, complete=False, text="first")
    second = _callback_decision(key, complete=False, text="second")
    with mock.patch.object(deliver_decision_webhook, "delay", side_effect=BrokerError("broker down")):
        moderate_batch.apply(args=([str(first.pk), str(second.pk)],))
    statuses = dict(Decision.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "status"))
    assert statuses == {first.pk: "completed", second.pk: "completed"}
    with mock.patch.object(deliver_decision_webhook, "delay") as queued:
        assert deliver_due_webhooks.apply().get() == 2  # the sweep queues what the broker refused
    assert {call.args[0] for call in queued.call_args_list} == {str(first.pk), str(second.pk)}


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.test/hook", "not a url", "https://svc:s3cret@example.test/hook"]
)
def test_create_api_key_refuses_a_webhook_url_it_cannot_post_to(url: str) -> None:
    policy_ensure_default()
    with pytest.raises(CommandError, match="webhook_url"):
        call_command("create_api_key", "svc", "--policy", "core-safety", "--webhook-url", url)
    assert not ApiKey.objects.filter(name="svc").exists()


@pytest.mark.parametrize("url", ["ftp://example.test/hook", "https://svc:s3cret@example.test/hook"])
def test_the_api_refuses_a_webhook_url_it_cannot_post_to(url: str) -> None:
    policy_ensure_default()
    admin = APIClient()
    admin.force_authenticate(UserFactory(is_superuser=True))
    answer = admin.post(
        "/api/v1/api-keys/", {"name": "svc", "policy": "core-safety", "webhook_url": url}, format="json"
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "webhook_url"
    assert not ApiKey.objects.exists()


def test_deliveries_have_a_queue_apart_from_the_default_queues_sweeps() -> None:
    router = app.amqp.router
    queue = router.route({}, "moderation_app.tasks.deliver_decision_webhook")["queue"].name
    assert queue == "webhooks"
    assert router.route({}, "moderation_app.tasks.recover_lost_decisions")["queue"].name == "default"

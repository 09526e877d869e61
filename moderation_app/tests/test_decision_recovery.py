"""Nothing accepted is lost: a decision whose guard task never reached the broker, or was dropped by
it, is queued again and judged. Real Redis broker, real PostgreSQL, a real guard worker."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app, queue_depth
from moderation_app.models import Decision
from moderation_app.services import ModerationInput, api_key_create, decision_record, decisions_recover_lost
from moderation_app.tasks import recover_lost_decisions
from policies_app.models import Policy
from policies_app.services import policy_ensure_default
from training_worker.tasks.guard import moderate_decision

pytestmark = pytest.mark.django_db(transaction=True)

LONG_AGO = timedelta(minutes=10)


@pytest.fixture
def policy() -> Policy:
    return policy_ensure_default()[0]


@pytest.fixture
def service(policy: Policy) -> APIClient:
    _, token = api_key_create(name="chat", policy=policy, actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def empty_guard_queue() -> Iterator[None]:
    _purge_guard_queue()
    yield
    _purge_guard_queue()


def _purge_guard_queue() -> None:
    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel  # kombu's type stubs leave out queue_purge
        for queue in ("guard", "guard-bulk"):
            channel.queue_purge(queue)


@contextmanager
def broker_down() -> Iterator[None]:
    """The broker goes away for publishers: Celery sends to a port nothing listens on. The database
    stays up, and so does a worker already consuming."""
    before = os.environ.get("CELERY_BROKER_URL")
    os.environ["CELERY_BROKER_URL"] = "redis://127.0.0.1:1/0"  # Celery reads it ahead of its settings
    _drop_publisher_connections()
    try:
        yield
    finally:
        if before is None:
            del os.environ["CELERY_BROKER_URL"]
        else:
            os.environ["CELERY_BROKER_URL"] = before
        _drop_publisher_connections()


def _drop_publisher_connections() -> None:
    """Publishers connect again, to the broker the environment names now (pools keep their connections)."""
    # Celery builds both on first use; its type stubs do not list them.
    app._pool = None  # type: ignore[attr-defined]
    app.amqp._producer_pool = None  # type: ignore[attr-defined]


def _lost_decision(policy: Policy, text: str, *, age: timedelta = LONG_AGO) -> Decision:
    """A pending decision whose task was never queued, recorded `age` ago."""
    decision, _ = decision_record(
        api_key=None,
        actor=None,
        policy_version=policy.published_version,  # type: ignore[arg-type]
        request=ModerationInput(messages=[{"role": "user", "content": text}], target="prompt", reasoning="none"),
        enqueue=False,
    )
    Decision.objects.filter(pk=decision.pk).update(created_at=timezone.now() - age)
    return decision


def _wait_until_done(decision: Decision, seconds: float = 60) -> Decision:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        decision.refresh_from_db()
        if decision.status != Decision.Status.PENDING:
            return decision
        time.sleep(0.1)
    raise AssertionError(f"decision {decision.pk} is still pending after {seconds}s")


def test_a_decision_whose_task_was_lost_is_queued_again_and_judged(
    policy: Policy, empty_guard_queue: None, guard_worker: Any, active_tiny_model: Any
) -> None:
    decision = _lost_decision(policy, "How do I bake bread?")
    assert recover_lost_decisions() == 1
    done = _wait_until_done(decision)
    assert done.status == Decision.Status.COMPLETED
    assert done.verdict in ("safe", "unsafe")
    assert done.model_version is not None


def test_a_recently_recorded_decision_is_left_alone(policy: Policy, empty_guard_queue: None) -> None:
    decision = _lost_decision(policy, "still on its way", age=timedelta(seconds=5))
    assert decisions_recover_lost(older_than=timedelta(minutes=2)) == []
    assert queue_depth(queue="guard") == queue_depth(queue="guard-bulk") == 0
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING


def test_nothing_is_queued_again_while_the_guard_queue_has_a_backlog(policy: Policy, empty_guard_queue: None) -> None:
    waiting = _lost_decision(policy, "queued long ago")
    decision_record(  # its task waits on the queue: no worker is running
        api_key=None,
        actor=None,
        policy_version=policy.published_version,  # type: ignore[arg-type]
        request=ModerationInput(messages=[{"role": "user", "content": "hi"}], target="prompt", reasoning="none"),
    )
    assert queue_depth(queue="guard-bulk") == 1  # nobody waits for it
    assert decisions_recover_lost(older_than=timedelta(minutes=2)) == []
    assert queue_depth(queue="guard-bulk") == 1
    waiting.refresh_from_db()
    assert waiting.status == Decision.Status.PENDING


def test_a_decision_queued_again_after_it_was_judged_is_not_judged_twice(
    policy: Policy, empty_guard_queue: None, guard_worker: Any, active_tiny_model: Any
) -> None:
    decision = _lost_decision(policy, "How do I bake bread?")
    assert decisions_recover_lost(older_than=timedelta(minutes=2)) == [str(decision.pk)]
    first = _wait_until_done(decision)
    assert decisions_recover_lost(older_than=timedelta(minutes=2)) == []  # done: not pending any more
    # Its first task turns up after all (the broker had kept it): the stored judgement stays as it is.
    assert moderate_decision.apply_async(args=(str(decision.pk),)).get(timeout=30) == "completed"
    again = Decision.objects.get(pk=decision.pk)
    assert (again.completed_at, again.raw_output, again.score) == (first.completed_at, first.raw_output, first.score)


def test_an_async_call_is_accepted_while_the_broker_is_down_and_judged_once_it_is_back(
    service: APIClient, empty_guard_queue: None, guard_worker: Any, active_tiny_model: Any
) -> None:
    with broker_down():
        response = service.post("/api/v1/moderate", {"input": "How do I bake bread?", "async": True}, format="json")
    assert response.status_code == 202, response.json()
    decision = Decision.objects.get(pk=response.json()["id"])
    assert decision.status == Decision.Status.PENDING
    # The broker is back; the sweep takes the decision once it has waited long enough.
    assert recover_lost_decisions() == 0
    Decision.objects.filter(pk=decision.pk).update(created_at=timezone.now() - LONG_AGO)
    assert recover_lost_decisions() == 1
    assert _wait_until_done(decision).status == Decision.Status.COMPLETED


def test_a_sync_call_hears_at_once_that_the_guard_queue_is_unreachable(service: APIClient) -> None:
    started = time.monotonic()
    with broker_down(), CaptureQueriesContext(connection) as queries:
        response = service.post("/api/v1/moderate", {"input": "How do I bake bread?"}, format="json")
    assert response.status_code == 503
    # The INSERT did not wait for the disk; a durable write comes before the 503 says the decision is kept.
    statements = [q["sql"] for q in queries]
    insert = next(i for i, sql in enumerate(statements) if sql.startswith("WITH unflushed AS"))
    assert any(sql.startswith('UPDATE "moderation_app_decision" SET "status"') for sql in statements[insert + 1 :])
    assert time.monotonic() - started < 10  # not the whole GUARD_TIMEOUT_S
    assert response.json()["error"]["code"] == "guard_unavailable"
    decision = Decision.objects.get()
    assert decision.status == Decision.Status.PENDING  # recorded: the sweep queues it later
    assert response["Location"] == f"/api/v1/decisions/{decision.pk}/"
    assert int(response["Retry-After"]) > 0


def test_a_sync_batch_hears_at_once_that_the_guard_queue_is_unreachable(service: APIClient) -> None:
    with broker_down():
        response = service.post("/api/v1/moderate/batch", {"items": [{"input": "a"}, {"input": "b"}]}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "guard_unavailable"
    assert Decision.objects.filter(status=Decision.Status.PENDING).count() == 2

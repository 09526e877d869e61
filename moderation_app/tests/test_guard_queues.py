"""Work someone waits on and work nobody waits on take separate guard queues, and a guard worker takes
the first before the second, so a backlog of async calls never holds up a synchronous one. Real Redis
broker; a real worker process for the order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from celery.result import AsyncResult
from django.conf import settings
from django.test import Client, override_settings
from rest_framework.test import APIClient

from config.celery import app, queue_depth
from moderation_app.services import api_key_create
from policies_app.models import Policy
from policies_app.services import policy_ensure_default
from tests.worker_processes import running_worker, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
QUEUES = ("guard", "guard-bulk")


def _purge() -> None:
    with app.connection_for_write() as connection:
        channel: Any = connection.default_channel  # kombu's type stubs leave out queue_purge
        for queue in QUEUES:
            channel.queue_purge(queue)


@pytest.fixture(autouse=True)
def empty_guard_queues() -> Iterator[None]:
    _purge()
    yield
    _purge()


@pytest.fixture
def service() -> APIClient:
    policy: Policy = policy_ensure_default()[0]
    _, token = api_key_create(name="chat", policy=policy, actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@override_settings(GUARD_TIMEOUT_S=0.2)
def test_a_call_that_waits_takes_the_guard_queue_and_one_that_does_not_the_bulk_queue(service: APIClient) -> None:
    assert service.post("/api/v1/moderate", {"input": "a", "async": True}, format="json").status_code == 202
    items = {"items": [{"input": "b"}, {"input": "c"}], "async": True}
    assert service.post("/api/v1/moderate/batch", items, format="json").status_code == 202
    assert [queue_depth(queue=q) for q in QUEUES] == [0, 2]  # one task per call
    assert service.post("/api/v1/moderate", {"input": "d"}, format="json").status_code == 503  # no worker
    assert service.post("/api/v1/moderate/batch", {"items": [{"input": "e"}]}, format="json").status_code == 503
    assert [queue_depth(queue=q) for q in QUEUES] == [2, 2]


def test_readiness_and_metrics_show_the_backlog_of_each_queue(service: APIClient) -> None:
    for text in ("a", "b"):
        service.post("/api/v1/moderate", {"input": text, "async": True}, format="json")
    metrics = Client().get("/metrics").content.decode()
    assert 'arbiter_guard_queue_messages{queue="guard-bulk"} 2.0' in metrics
    assert 'arbiter_guard_queue_messages{queue="guard"} 0.0' in metrics
    # Read before the readiness check queues its own ping (no worker takes it here).
    ready = Client().get("/readyz").json()
    assert ready["checks"]["broker"]["queued"] == {"guard": 0, "guard-bulk": 2}


@pytest.mark.slow
def test_a_guard_worker_takes_the_waited_for_tasks_before_a_bulk_backlog() -> None:
    ping = "training_worker.tasks.guard.ping"  # results record when each task ran (date_done)
    backlog = [app.send_task(ping, queue=settings.GUARD_BULK_QUEUE) for _ in range(6)]
    waited_for = [app.send_task(ping, queue=settings.GUARD_QUEUE) for _ in range(3)]
    env = worker_env(GUARD_PRELOAD="false", GUARD_BACKEND="transformers", MODEL_STORE=str(settings.MODEL_STORE))
    with running_worker(name="order", queue="guard,guard-bulk", pool="threads", env=env, concurrency=1):
        for result in [*waited_for, *backlog]:
            result.get(timeout=60)
    done: dict[str, datetime] = {}
    for result in [*waited_for, *backlog]:
        finished = AsyncResult(result.id, app=app).date_done
        assert finished is not None
        done[result.id] = finished
    # Taken in turn, the queues would have let bulk tasks in between the three.
    assert max(done[r.id] for r in waited_for) < min(done[r.id] for r in backlog)

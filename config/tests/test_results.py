"""The Redis result backend subscribes to nothing when a task is sent, and `get()` still hears every
result, stored before it waited or while it waits. Real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from celery.backends.redis import RedisBackend as CeleryRedisBackend
from celery.result import AsyncResult
from django.conf import settings

from config.celery import app
from config.results import RedisBackend

UNCONSUMED_QUEUE = "test-results-unconsumed"


def _subscribed(backend: Any, task_id: str) -> bool:
    consumer = backend.result_consumer
    return consumer._get_key_for_task(task_id) in consumer.subscribed_to


def test_the_app_uses_the_backend_without_the_send_time_subscription() -> None:
    assert settings.CELERY_RESULT_BACKEND.startswith("redis://")
    assert isinstance(app.backend, RedisBackend)


def test_sending_a_task_subscribes_to_nothing() -> None:
    task_id = str(uuid.uuid4())
    try:
        app.send_task("config.tests.never_run", task_id=task_id, queue=UNCONSUMED_QUEUE)
        assert not _subscribed(app.backend, task_id)
    finally:
        with app.connection_for_write() as connection:
            channel: Any = connection.default_channel  # kombu's stubs leave out queue_purge
            channel.queue_purge(UNCONSUMED_QUEUE)
    # Celery's own backend would have subscribed (and left the server's reply unread).
    stock = CeleryRedisBackend(app=app, url=settings.CELERY_RESULT_BACKEND)
    stock.on_task_call(None, task_id)
    assert _subscribed(stock, task_id)


def test_get_hears_a_result_stored_before_it_waited() -> None:
    task_id = str(uuid.uuid4())
    app.backend.store_result(task_id, {"answer": 1}, "SUCCESS")
    assert AsyncResult(task_id, app=app).get(timeout=10) == {"answer": 1}


def test_get_hears_a_result_stored_while_it_waits() -> None:
    task_id = str(uuid.uuid4())

    def store_later() -> None:
        time.sleep(0.3)
        app.backend.store_result(task_id, {"answer": 2}, "SUCCESS")

    storer = threading.Thread(target=store_later)
    storer.start()
    started = time.monotonic()
    try:
        assert AsyncResult(task_id, app=app).get(timeout=10) == {"answer": 2}
    finally:
        storer.join()
    assert time.monotonic() - started < 5  # heard when published, not at the timeout

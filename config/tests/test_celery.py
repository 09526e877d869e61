"""Workers keep their database connections across tasks, as the web keeps them across requests, and
still replace one that broke. A real guard worker process over the real Redis broker and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app
from tests.worker_processes import running_worker, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
SETTLE_S = 0.3  # the task's postrun (where connections used to be closed) runs after its result is stored


def _other_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return {row[0] for row in cursor.fetchall()}


def _ping() -> None:
    app.send_task("training_worker.tasks.guard.ping", queue="guard").get(timeout=30)
    time.sleep(SETTLE_S)


@pytest.fixture
def guard_process() -> Iterator[list[str]]:
    env = worker_env(GUARD_PRELOAD="false", GUARD_BACKEND="transformers", MODEL_STORE=str(settings.MODEL_STORE))
    with running_worker(name="connections", queue="guard,guard-bulk", pool="threads", env=env) as lines:
        yield lines


def test_a_worker_keeps_its_database_connections_across_tasks(guard_process: list[str]) -> None:
    before = _other_backends()
    seen: list[set[int]] = []
    for _ in range(6):
        _ping()
        seen.append(_other_backends() - before)
    assert all(seen), f"the worker closed its connection after a task: {seen}"
    used = set().union(*seen)
    assert len(used) <= 2, f"six tasks on two threads opened {len(used)} connections"


def test_a_worker_replaces_a_connection_that_broke(guard_process: list[str]) -> None:
    before = _other_backends()
    _ping()
    broken = _other_backends() - before
    with connection.cursor() as cursor:
        for pid in broken:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    for _ in range(4):  # on either of the two threads
        _ping()
    assert not any("Traceback" in line for line in guard_process), "".join(guard_process[-40:])
    assert _other_backends() - before - broken

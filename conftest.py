"""Fixtures shared by every app's tests. The suite runs on real PostgreSQL and Redis (see Makefile)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient


@pytest.fixture(autouse=True, scope="session")
def _real_services_only(django_db_setup: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        assert connection.vendor == "postgresql", "the suite must run on PostgreSQL (set DATABASE_URL)"


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()  # throttle counters live in the cache


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def guard_worker(transactional_db: Any) -> Iterator[Any]:
    """A real Celery worker consuming the `guard` queue over the real broker, in this process."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    with start_worker(app, queues=["guard"], pool="threads", concurrency=2, perform_ping_check=False) as worker:
        yield worker

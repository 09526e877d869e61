"""Fixtures shared by every app's tests. The suite runs on real PostgreSQL and Redis (see Makefile)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.backends.base.creation import TEST_DATABASE_PREFIX
from rest_framework.test import APIClient


@pytest.fixture(autouse=True, scope="session")
def _real_services_only(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        assert connection.vendor == "postgresql", "the suite must run on PostgreSQL (set DATABASE_URL)"
    yield
    if not connection.settings_dict["NAME"].startswith(TEST_DATABASE_PREFIX):
        return  # no test in this run used the database, so pytest-django did not create it
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        # Workers started in this process keep their connections (WORKER_DB_REUSE_MAX), in threads
        # that have ended: close them on the server, so the test database can be dropped.
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()  # throttle counters live in the cache


@pytest.fixture
def file_cache(settings: Any, tmp_path: Path) -> Iterator[None]:
    """The file cache of a one-machine install, with no Redis behind it, in place of the tests' Redis."""
    from config.redis import shared_redis, shared_redis_blocking

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
    }
    for chosen in (shared_redis, shared_redis_blocking):
        chosen.cache_clear()  # it is chosen once per process, from the settings
    yield
    for chosen in (shared_redis, shared_redis_blocking):
        chosen.cache_clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def guard_worker(transactional_db: Any) -> Iterator[Any]:
    """A real Celery worker consuming the `guard` queue over the real broker, in this process."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app
    from training_worker.presence import PresenceReporter

    # Both guard queues, the default queue, and the webhooks queue.
    with start_worker(
        app,
        queues=["guard", "guard-bulk", "default", "webhooks"],
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
    ) as worker:
        # What a guard worker starts on worker_ready and stops on worker_shutdown; this one sends neither.
        reporter = PresenceReporter().start()
        try:
            yield worker
        finally:
            reporter.stop()


@pytest.fixture(scope="session")
def smollm_dir() -> Path:
    from training_worker.tests.models import ensure_smollm

    return ensure_smollm()


@pytest.fixture(scope="session")
def tiny_model_dir(smollm_dir: Path, tmp_path_factory: Any) -> Path:
    from training_worker.tests.models import build_tiny_model

    return build_tiny_model(smollm_dir, tmp_path_factory.mktemp("tiny-a"), seed=1)


@pytest.fixture(scope="session")
def other_tiny_model_dir(smollm_dir: Path, tmp_path_factory: Any) -> Path:
    from training_worker.tests.models import build_tiny_model

    return build_tiny_model(smollm_dir, tmp_path_factory.mktemp("tiny-b"), seed=2)


@pytest.fixture
def active_tiny_model(tiny_model_dir: Path, db: Any) -> Any:
    """A registered, active tiny random model: what the guard worker loads in fast tests."""
    from training_worker.services import model_version_activate, model_version_register

    model = model_version_register(name="tiny-random", base="tiny random Llama", path=str(tiny_model_dir))
    return model_version_activate(model_version=model)


@pytest.fixture(autouse=True)
def _fresh_guard_runtime() -> Iterator[None]:
    """Each test starts with no model loaded in this process (the runtime is a per-process singleton)."""
    yield
    from training_worker.guard.runtime import shutdown_runtime

    shutdown_runtime()

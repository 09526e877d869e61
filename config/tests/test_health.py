from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.test import Client, override_settings


def test_healthz_answers_without_touching_anything(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@override_settings(READYZ_GUARD_TIMEOUT_S=0.5)
def test_readyz_names_the_guard_check_when_no_worker_answers(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert body["checks"]["guard_worker"]["ok"] is False
    assert "no guard worker answered a ping within 0.5s" in body["checks"]["guard_worker"]["error"]


@pytest.mark.django_db
@override_settings(READYZ_GUARD_TIMEOUT_S=0.5)
def test_readyz_counts_a_guard_worker_too_busy_to_answer_as_ready_when_its_model_is_loaded(client: Client) -> None:
    from training_worker.presence import guard_presence_report

    # What a worker whose every task thread is busy reports; nothing takes the ping here.
    guard_presence_report(status={"loaded_model": "m", "loading_model": None, "load_error": None})
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert "no task thread was free to answer a ping" in response.json()["checks"]["guard_worker"]["worker"]["busy"]


@pytest.mark.django_db
@override_settings(READYZ_GUARD_TIMEOUT_S=0.5)
def test_readyz_does_not_count_a_busy_guard_worker_that_is_still_loading(client: Client) -> None:
    from training_worker.presence import guard_presence_report

    guard_presence_report(status={"loaded_model": None, "loading_model": "m", "load_error": None})
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "no guard worker answered a ping" in response.json()["checks"]["guard_worker"]["error"]


def test_readyz_is_ready_once_a_guard_worker_answers(client: Client, guard_worker: Any, active_tiny_model: Any) -> None:
    from training_worker.guard.runtime import get_runtime

    get_runtime().current()  # the model loaded (or the worker's own preload finished)
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["guard_worker"]["worker"]["pid"] > 0


@pytest.mark.django_db
def test_readyz_reports_an_unreachable_broker(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real Celery app whose broker address has nothing listening (the env var would override it).
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    unreachable = Celery("unreachable", broker="redis://127.0.0.1:1/0")
    monkeypatch.setattr("config.health.celery_app", lambda: unreachable)
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"]["ok"] is False
    assert "Connection refused" in checks["broker"]["error"] or "Error" in checks["broker"]["error"]
    assert checks["guard_worker"] == {"ok": False, "error": "skipped: the broker is unavailable"}


@pytest.mark.django_db
def test_metrics_are_in_prometheus_format(client: Client) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert 'arbiter_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "arbiter_http_request_duration_seconds_bucket" in text


@pytest.mark.django_db
def test_the_openapi_schema_and_docs_are_served(client: Client) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    document = schema.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/auth/login" in document["paths"]
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn" not in docs.content.lower()


@pytest.mark.django_db
def test_unknown_api_paths_answer_json_404(client: Client) -> None:
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_readyz_fails_while_no_model_is_active(client: Client, guard_worker: Any) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "no model is active" in response.json()["checks"]["guard_worker"]["error"]


def test_readyz_reports_a_model_that_cannot_load(client: Client, guard_worker: Any, tmp_path: Any) -> None:
    from training_worker.guard.runtime import GuardUnavailable, get_runtime
    from training_worker.services import model_version_activate, model_version_register

    broken = model_version_register(name="broken", base="x", path=str(tmp_path / "gone"))
    model_version_activate(model_version=broken)
    with pytest.raises(GuardUnavailable):
        get_runtime().current()  # what the worker's first task (or its preload) runs into
    response = client.get("/readyz")
    assert response.status_code == 503
    error = response.json()["checks"]["guard_worker"]["error"]
    assert "its model is not usable: cannot load model broken" in error


def test_readyz_is_not_ready_while_the_worker_is_still_loading_its_model(
    client: Client, guard_worker: Any, active_tiny_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training_worker.guard.runtime import GuardRuntime, get_runtime

    inside, release = threading.Event(), threading.Event()
    load = GuardRuntime._load

    def slow_load(self: GuardRuntime, model: Any) -> Any:
        inside.set()
        release.wait(timeout=30)
        return load(self, model)

    monkeypatch.setattr(GuardRuntime, "_load", slow_load)
    runtime = get_runtime()
    loader = threading.Thread(target=runtime.current)
    loader.start()
    try:
        assert inside.wait(timeout=30)
        response = client.get("/readyz")
        assert response.status_code == 503
        error = response.json()["checks"]["guard_worker"]["error"]
        assert f"is still loading model {active_tiny_model.name}" in error
    finally:
        release.set()
        loader.join()
    assert client.get("/readyz").status_code == 200


def test_the_guard_check_of_a_one_machine_install_says_why_it_failed(tmp_path: Path) -> None:
    # SQLite, the embedded broker and the file result backend, as `make run` without any *_URL.
    dropped = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CACHE_URL")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith("DJANGO_")}
    show = "from config.health import check_guard_worker; print(check_guard_worker(0.3)['error'])"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", show],
        cwd=Path(__file__).resolve().parents[2],
        env={**env, "VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Before, the file backend's forget() of a result it never got raised FileNotFoundError instead.
    assert result.stdout.strip() == "TimeoutError: no guard worker answered a ping within 0.3s", result.stderr

"""Liveness and readiness: `/healthz` says the process is up; `/readyz` says it can do its job."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from celery import Celery
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

Check = dict[str, Any]


def _timed(fn: Callable[[], dict[str, Any]]) -> Check:
    started = time.perf_counter()
    try:
        detail = fn()
    except Exception as exc:  # noqa: BLE001 - a readiness probe reports any failure instead of raising
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "latency_ms": _ms(started)}
    return {"ok": True, **detail, "latency_ms": _ms(started)}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def check_database() -> Check:
    def run() -> dict[str, Any]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"vendor": connection.vendor}

    return _timed(run)


def celery_app() -> Celery:
    from config.celery import app

    return app


def check_broker() -> Check:
    from config.celery import guard_queue_depths

    def run() -> dict[str, Any]:
        with celery_app().connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
            conn.default_channel  # noqa: B018 - opening a channel is what really talks to the broker
            # A backlog shows here: one of bulk work (async calls, a backfill) is no reason to be unready.
            return {"transport": conn.transport_cls, "queued": guard_queue_depths(connection=conn)}

    return _timed(run)


def check_guard_worker(timeout_s: float) -> Check:
    from celery.exceptions import TimeoutError as CeleryTimeout

    from training_worker.presence import PRESENCE_TTL_S, guard_ready_host
    from training_worker.tasks.guard import ping

    def run() -> dict[str, Any]:
        # `expires` drops the ping if no worker takes it in time, so dead pings never pile up.
        result = ping.apply_async(expires=timeout_s * 5)
        try:
            answer: dict[str, Any] = result.get(timeout=timeout_s, interval=0.05)
        except CeleryTimeout:
            # Every task thread may be busy with long work (a backlog of `full` calls): a worker that
            # said lately that its model is loaded is ready, only busy.
            if (host := guard_ready_host()) is not None:
                return {
                    "worker": {
                        "hostname": host,
                        "busy": f"no task thread was free to answer a ping within "
                        f"{timeout_s:g}s; the worker said {PRESENCE_TTL_S:g}s ago or less that its model is loaded",
                    }
                }
            raise TimeoutError(f"no guard worker answered a ping within {timeout_s}s") from None
        finally:
            # The file result backend of a one-machine install cannot forget a result it never got;
            # its FileNotFoundError hid the check's own outcome.
            with contextlib.suppress(Exception):
                result.forget()
        if not answer.get("active_model"):
            raise RuntimeError("a guard worker answered, but no model is active (manage.py guard install-default)")
        if answer.get("load_error"):
            raise RuntimeError(f"a guard worker answered, but its model is not usable: {answer['load_error']}")
        if answer.get("loading_model") and not answer.get("loaded_model"):
            # Calls made now would wait for the load, and time out where it takes longer than GUARD_TIMEOUT_S.
            raise RuntimeError(f"a guard worker answered, but is still loading model {answer['loading_model']}")
        return {"worker": answer}

    return _timed(run)


def readiness_checks() -> dict[str, Check]:
    checks = {"database": check_database(), "broker": check_broker()}
    if checks["broker"]["ok"]:
        checks["guard_worker"] = check_guard_worker(settings.READYZ_GUARD_TIMEOUT_S)
    else:
        checks["guard_worker"] = {"ok": False, "error": "skipped: the broker is unavailable"}
    return checks


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness_checks()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)

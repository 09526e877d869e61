"""Prometheus metrics for the web process.

Under gunicorn, `platform/gunicorn.conf.py` sets PROMETHEUS_MULTIPROC_DIR before the app loads, so
every worker process writes its samples there and `/metrics` adds them up.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "arbiter_http_requests_total", "HTTP requests answered, by route pattern and status.", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "arbiter_http_request_duration_seconds",
    "Time to answer an HTTP request, by route pattern.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def _route(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    # The pattern, not the path, keeps the label set small (no ids in labels).
    return f"/{match.route}" if match is not None and match.route else "unmatched"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        route = _route(request)
        HTTP_REQUESTS.labels(request.method or "", route, str(response.status_code)).inc()
        HTTP_LATENCY.labels(route).observe(time.perf_counter() - started)
        return response


class GuardQueueCollector(Collector):
    """What waits on the guard's queues, read from the broker at each scrape: a backlog of bulk work
    (a backfill through async calls) shows here while it drains."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from config.celery import guard_queue_depths

        try:
            depths = guard_queue_depths()
        except Exception as exc:  # noqa: BLE001 - a broker that is down leaves out this gauge, not the rest
            logger.warning("cannot read the guard queues for /metrics: %s", exc)
            return
        gauge = GaugeMetricFamily(
            "arbiter_guard_queue_messages", "Guard tasks waiting in the broker, by queue.", labels=["queue"]
        )
        for queue, depth in depths.items():
            gauge.add_metric([queue], depth)
        yield gauge


def metrics_view(request: HttpRequest) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        from prometheus_client import REGISTRY

        payload = generate_latest(REGISTRY)
    from moderation_app.metrics import BacklogCollector

    state = CollectorRegistry()
    state.register(GuardQueueCollector())
    state.register(BacklogCollector())
    return HttpResponse(payload + generate_latest(state), content_type=CONTENT_TYPE_LATEST)

"""Prometheus counters for moderation (exported by /metrics on the web process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MODERATION_REQUESTS = Counter(
    "arbiter_moderation_requests_total",
    "Moderation requests answered by the web process, by outcome"
    " (safe, unsafe, malformed, pending, timeout, unavailable).",
    ["outcome"],
)
MODERATION_WAIT = Histogram(
    "arbiter_moderation_wait_seconds",
    "Time a synchronous moderation call waited for the guard.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)

"""Prometheus counters for moderation (exported by /metrics on the web process)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

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


class BacklogCollector(Collector):
    """What waits on the platform, read from the database at each scrape (`moderation_backlog`):
    failed webhooks and escalated review items are what an operator alerts on."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from moderation_app.selectors import moderation_backlog

        try:
            backlog = moderation_backlog()
        except Exception as exc:  # noqa: BLE001 - a database that is down leaves out these gauges, not the rest
            logger.warning("cannot read the backlog for /metrics: %s", exc)
            return
        helps = {
            "decisions": ("arbiter_decisions", "Decisions by state: pending ones wait for the guard."),
            "webhooks": ("arbiter_webhook_deliveries", "Webhook callbacks pending (due or retrying) or failed."),
            "review_items": (
                "arbiter_review_items",
                "Review items open (expired claims included), claimed, and escalated (open after their"
                " reviewers disagreed).",
            ),
        }
        for part, counts in backlog.items():
            name, documentation = helps[part]
            gauge = GaugeMetricFamily(name, documentation, labels=["state"])
            for state, count in counts.items():
                gauge.add_metric([state], count)
            yield gauge

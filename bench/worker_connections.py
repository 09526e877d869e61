"""What a worker's database connection costs each task: kept across tasks against closed after each.

It starts two guard workers as real processes, each on a queue of its own (so a running stack's
workers are not involved): `reuse` with the product's setting (WORKER_DB_REUSE_MAX=1000, the
connection is kept) and `close` with WORKER_DB_REUSE_MAX=0 (Celery's default: every connection is
closed around every task). Then it sends the guard's `ping` task (one query, as readiness probes do)
to each in alternation, one at a time, and times the round trip from the sender.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arbiter CELERY_BROKER_URL=redis://127.0.0.1:6379/10 \\
        .venv/bin/python bench/worker_connections.py

Run it with the stack's DATABASE_URL and a Redis broker. It prints one JSON document.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SETTINGS = {"reuse": "1000", "close": "0"}
PING = "training_worker.tasks.guard.ping"


def round_trip_ms(app: Any, queue: str) -> float:
    started = time.perf_counter()
    app.send_task(PING, queue=queue).get(timeout=30)
    return (time.perf_counter() - started) * 1000


def spread(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "mean_ms": round(statistics.fmean(ordered), 2),
    }


def measure(calls: int, threads: int) -> dict[str, Any]:
    from config.celery import app
    from tests.worker_processes import running_worker

    with contextlib.ExitStack() as workers:
        for name, reuse_max in SETTINGS.items():
            env = {**os.environ, "WORKER_DB_REUSE_MAX": reuse_max, "GUARD_PRELOAD": "false"}
            queue = f"bench-{name}"
            workers.enter_context(running_worker(name=queue, queue=queue, pool="threads", env=env, concurrency=threads))
        samples: dict[str, list[float]] = {name: [] for name in SETTINGS}
        for i in range(calls):
            order = list(SETTINGS) if i % 2 == 0 else list(reversed(SETTINGS))
            for name in order:
                samples[name].append(round_trip_ms(app, f"bench-{name}"))
    return {name: spread(values) for name, values in samples.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="pings per worker")
    parser.add_argument("--threads", type=int, default=8, help="each worker's thread pool, as the guard runs it")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("run it against PostgreSQL (DATABASE_URL): that is where connecting costs")
    results = measure(args.calls, args.threads)
    report = {
        "config": {"calls": args.calls, "threads": args.threads, "task": PING, "settings": SETTINGS},
        "machine": {"cpu_count": os.cpu_count()},
        "round_trip": results,
        "ratios": {
            "close_vs_reuse_p50": round(results["close"]["p50_ms"] / results["reuse"]["p50_ms"], 2),
            "saved_per_task_p50_ms": round(results["close"]["p50_ms"] - results["reuse"]["p50_ms"], 2),
        },
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

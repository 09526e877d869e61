"""What one round trip to the stack's database and Redis costs on this host, back to back and after a pause.

A synchronous moderation call crosses processes about a dozen times outside the model (client, web,
Redis, PostgreSQL, the guard worker, and back). With one client, every crossing finds the other
process asleep: the call before it ended a model call ago. This measures that cost alone, from one
process, with no application code: Redis `PING` and PostgreSQL `SELECT 1` over the stack's own
connections, sent back to back (`gap 0`) and after sleeps of 1, 10 and 150 ms (150 ms is about the
spacing of a one-client `bench/api_load.py` run with reasoning `none`). It prints one JSON document.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arbiter CACHE_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/round_trips.py

Run it with the stack's DATABASE_URL (PostgreSQL) and a Redis URL (CACHE_URL, else CELERY_BROKER_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

GAPS_MS = (0.0, 1.0, 10.0, 150.0)


def median_ms(call: Callable[[], Any], *, gap_ms: float, samples: int) -> float:
    timings = []
    for _ in range(samples):
        if gap_ms:
            time.sleep(gap_ms / 1000)
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 3)


def measure(*, database_url: str, redis_url: str, samples: int) -> dict[str, Any]:
    import psycopg
    import redis

    client = redis.Redis.from_url(redis_url)
    with psycopg.connect(database_url, autocommit=True) as connection:
        calls: dict[str, Callable[[], Any]] = {
            "redis_ping": client.ping,
            "postgres_select_1": lambda: connection.execute("SELECT 1").fetchone(),
        }
        for call in calls.values():
            call()  # connected, and the first query's setup is not timed
        figures = {
            name: {f"gap_{gap:g}_ms": median_ms(call, gap_ms=gap, samples=samples) for gap in GAPS_MS}
            for name, call in calls.items()
        }
    for row in figures.values():
        row["after_150_ms_vs_back_to_back"] = round(row["gap_150_ms"] / row["gap_0_ms"], 1)
    return figures


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--samples", type=int, default=60, help="round trips per gap (default 60)")
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error("--samples must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("CACHE_URL") or os.environ.get("CELERY_BROKER_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")) or not redis_url.startswith("redis://"):
        raise SystemExit("set DATABASE_URL to the stack's PostgreSQL and CACHE_URL (or CELERY_BROKER_URL) to its Redis")
    report = {
        "samples_per_gap": args.samples,
        "median_round_trip_ms": measure(
            database_url=database_url.replace("postgres://", "postgresql://", 1),
            redis_url=redis_url,
            samples=args.samples,
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

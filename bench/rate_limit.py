"""What the per-key rate limit costs per call, against the timestamp list it replaced, side by side.

For each rate (calls a key makes per minute) it fills both limiters with one minute of history, then
times calls of each in alternation against the same cache. `counters` is the product's limiter
(`moderation_app/ratelimit.py`, two counters per key); `timestamp_list` is DRF's SimpleRateThrottle,
which keeps every call of the last minute in one cached list, read and rewritten whole on each call.
It also fires concurrent calls at both with a known limit and reports how many each let through.

    CACHE_URL=redis://127.0.0.1:6379/11 .venv/bin/python bench/rate_limit.py

It prints one JSON document; run it with the stack's CACHE_URL (without one, Django's file cache).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def timestamp_list_hit(cache: Any, key: str, limit: int, now: float) -> bool:
    """DRF SimpleRateThrottle's algorithm: the list of the last minute's call times."""
    history: list[float] = cache.get(key, [])
    while history and history[-1] <= now - 60:
        history.pop()
    if len(history) >= limit:
        return False
    history.insert(0, now)
    cache.set(key, history, 60)
    return True


def per_call_us(hit: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        hit()
    return (time.perf_counter() - started) / calls * 1e6


def measure_rate(rate: int, calls: int, rounds: int) -> dict[str, Any]:
    from django.core.cache import cache

    from moderation_app.ratelimit import rate_limit_hit

    list_key, counter_key = f"bench:list:{uuid.uuid4().hex}", f"bench:ctr:{uuid.uuid4().hex}"
    now = time.time()
    cache.set(list_key, [now - 60 * i / rate for i in range(rate)], 60)  # a minute of calls at `rate`
    limit = 10 * rate + calls * rounds  # never refuse: time the allowed path of both
    times: dict[str, list[float]] = {"counters": [], "timestamp_list": []}
    for _ in range(rounds):
        times["timestamp_list"].append(
            per_call_us(lambda: timestamp_list_hit(cache, list_key, limit, time.time()), calls)
        )
        times["counters"].append(per_call_us(lambda: rate_limit_hit(key=counter_key, limit=limit), calls))
    medians = {name: round(statistics.median(values), 1) for name, values in times.items()}
    return {
        "rate_per_minute": rate,
        "per_call_us": medians,
        "timestamp_list_vs_counters": round(medians["timestamp_list"] / medians["counters"], 2),
    }


def concurrent_admitted(limit: int, attempts: int, threads: int) -> dict[str, int]:
    from django.core.cache import cache

    from moderation_app.ratelimit import rate_limit_hit

    list_key, counter_key = f"bench:list:{uuid.uuid4().hex}", f"bench:ctr:{uuid.uuid4().hex}"
    with ThreadPoolExecutor(threads) as pool:
        listed = sum(pool.map(lambda _: timestamp_list_hit(cache, list_key, limit, time.time()), range(attempts)))
        counted = sum(pool.map(lambda _: rate_limit_hit(key=counter_key, limit=limit) == 0, range(attempts)))
    return {"limit": limit, "attempts": attempts, "threads": threads, "counters": counted, "timestamp_list": listed}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="60,600,6000,60000", help="calls per minute per key, comma-separated")
    parser.add_argument("--calls", type=int, default=200, help="timed calls per round and limiter")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    report = {
        "cache": settings.CACHES["default"]["BACKEND"],
        "cpu_count": os.cpu_count(),
        "rates": [measure_rate(int(r), args.calls, args.rounds) for r in args.rates.split(",")],
        "concurrent": concurrent_admitted(limit=50, attempts=400, threads=16),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

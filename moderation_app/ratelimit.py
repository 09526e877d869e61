"""A per-key requests-per-minute limit in constant work per request, shared by every web process.

Each key has one counter per minute in the cache, incremented atomically (Redis INCR), so requests
that arrive together are all counted. The limit applies to a sliding minute, estimated from this
minute's count and the previous minute's, weighted by how much of it the sliding minute still covers.
A list of timestamps (DRF's SimpleRateThrottle) is exact, but every request reads and rewrites the
whole list, which grows with the rate, and two concurrent requests can each overwrite the other's.

While Redis cannot count (down, unreachable), requests are not limited: they are logged as such once
a minute, and go on to be recorded and queued, rather than every call failing with a 500.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from config.redis import redis_outage_warn, shared_redis

if TYPE_CHECKING:
    from redis.client import Pipeline

WINDOW_S = 60
MIN_WAIT_S = 1.0
COUNTER_TTL_S = 2 * WINDOW_S + 5  # a counter is read in its own window and in the next
logger = logging.getLogger(__name__)


def sliding_window_wait(
    *, previous: int, current: int, limit: int, elapsed: float, window_s: float = WINDOW_S
) -> float:
    """Seconds until one more request fits the limit; 0 when it fits now.

    `previous` and `current` count the requests of the last window and of this one (without the one
    asking); `elapsed` is the fraction of this window gone.

    >>> sliding_window_wait(previous=0, current=2, limit=3, elapsed=0.5)
    0.0

    A full window waits for the next one, and there until it weighs less than the limit:

    >>> sliding_window_wait(previous=0, current=3, limit=3, elapsed=0.5)
    30.0

    Here 4 * 0.75 + 1 = 4 is too many; 4 * (1 - f) + 1 drops below 3 at f = 0.5:

    >>> sliding_window_wait(previous=4, current=1, limit=3, elapsed=0.25)
    15.0
    >>> sliding_window_wait(previous=4, current=2, limit=4, elapsed=0.5)  # exactly at the limit
    1.0
    """
    if previous * (1 - elapsed) + current < limit:
        return 0.0
    if current >= limit:
        # In the next window this one is the previous: it must weigh less than a whole limit by then.
        wait = (1 - elapsed) * window_s + (1 - limit / current) * window_s
    else:
        fraction = 1 - (limit - current) / previous  # where previous * (1 - f) + current drops below limit
        wait = (fraction - elapsed) * window_s
    return max(wait, MIN_WAIT_S)  # exactly at the limit, the wait is the next instant; Retry-After counts seconds


@dataclass(frozen=True)
class RateWindow:
    """Where one request is counted: this minute's counter and the last one's (cache keys)."""

    current_key: str
    previous_key: str
    elapsed: float  # the fraction of this minute gone


def rate_window(*, key: str, now: float | None = None) -> RateWindow:
    now = time.time() if now is None else now
    window = math.floor(now / WINDOW_S)
    return RateWindow(
        current_key=f"ratelimit:{key}:{window}",
        previous_key=f"ratelimit:{key}:{window - 1}",
        elapsed=(now / WINDOW_S) - window,
    )


def rate_count_queue(*, pipeline: Pipeline, window: RateWindow, cost: int = 1) -> None:
    """Queue the commands that count `cost` requests in `window` on a Redis pipeline: three replies,
    which `rate_count_replies` reads. The keys and the plain integer values are the ones the cache
    API reads and writes."""
    current = cache.make_key(window.current_key)
    pipeline.set(current, 0, ex=COUNTER_TTL_S, nx=True)
    pipeline.incrby(current, cost)
    pipeline.get(cache.make_key(window.previous_key))


def rate_count_replies(replies: Sequence[Any]) -> tuple[int, int]:
    """This minute's count with the request added, and the last minute's, from the three replies."""
    _, count, before = replies
    return int(count), int(before or 0)


def rate_limit_decide(*, window: RateWindow, current: int, previous: int, limit: int, cost: int = 1) -> float:
    """0 if the `cost` counted requests are allowed, else the seconds to wait (and then they are
    uncounted). `cost` requests fit where one more would fit under a limit `cost - 1` lower."""
    wait = sliding_window_wait(
        previous=previous, current=current - cost, limit=limit - cost + 1, elapsed=window.elapsed
    )
    if wait > 0:
        _increment(window.current_key, -cost)
    return wait


def rate_limit_hit(*, key: str, limit: int, cost: int = 1, now: float | None = None) -> float:
    """Count `cost` requests (the items of a batch) against `key`'s limit per minute; returns 0 if
    they are allowed, else the seconds to wait (and then they are not counted)."""
    window = rate_window(key=key, now=now)
    try:
        current, previous = _count(window, cost=cost)
    except RedisError as exc:
        redis_outage_warn(logger=logger, cannot="count requests", then="rate limits are not applied", exc=exc)
        return 0.0
    return rate_limit_decide(window=window, current=current, previous=previous, limit=limit, cost=cost)


def rate_limit_refund(*, window: RateWindow) -> None:
    """Take back one counted request (one the API refused before its limit was checked)."""
    with contextlib.suppress(RedisError):  # else the count expires with its window anyway
        _increment(window.current_key, -1)


def _count(window: RateWindow, *, cost: int = 1) -> tuple[int, int]:
    """This window's count with `cost` requests added, and the previous window's."""
    client = shared_redis()
    if client is None:  # the file cache of a one-machine install
        return _increment(window.current_key, cost), int(cache.get(window.previous_key) or 0)
    # One round trip instead of the cache API's three (EXISTS and INCR, then GET).
    pipeline = client.pipeline(transaction=False)
    rate_count_queue(pipeline=pipeline, window=window, cost=cost)
    return rate_count_replies(pipeline.execute())


def _increment(key: str, delta: int = 1) -> int:
    """Add `delta` to a counter. The file cache's incr is a read then a write, so concurrent calls
    (gunicorn's processes and threads) lost counts: there it runs under a file lock."""
    if shared_redis() is not None:
        return _incr_or_create(key, delta)
    # Each open file is locked apart, so this orders threads of one process as well as processes.
    with open(settings.VAR_DIR / "ratelimit.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _incr_or_create(key, delta)


def _incr_or_create(key: str, delta: int) -> int:
    try:
        return int(cache.incr(key, delta))
    except ValueError:  # no counter yet for this window
        if cache.add(key, delta, timeout=COUNTER_TTL_S):
            return delta
        return int(cache.incr(key, delta))  # another request made it first

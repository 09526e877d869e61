"""The Redis behind the shared cache, for what the cache API cannot do in one round trip."""

from __future__ import annotations

import functools
import logging
import math
import time

import redis
from django.conf import settings

# How much longer than the longest wait a blocking command's connection waits for its reply.
BLOCKING_MARGIN_S = 5.0
OUTAGE_WARNING_EVERY_S = 60.0
_warned_at: dict[str, float] = {}


def _cache_location() -> str | None:
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    return str(config["LOCATION"])


@functools.cache
def shared_redis() -> redis.Redis | None:
    """A client of the cache's Redis (CACHE_URL), or None where the cache is not Redis (the file
    cache of a one-machine install). Chosen once per process, from the settings."""
    location = _cache_location()
    return (
        None
        if location is None
        else redis.Redis.from_url(location, socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT_S)
    )


@functools.cache
def shared_redis_blocking() -> redis.Redis | None:
    """A client of the same Redis for commands that block for up to GUARD_TIMEOUT_S (BLPOP).

    A blocking command's reply comes when its wait ends, and redis-py gives up on a reply after its
    default socket timeout of 5 s: a synchronous call whose guard took longer lost its connection
    and took the slower way round. These connections wait for the longest wait and a margin.
    """
    location = _cache_location()
    if location is None:
        return None
    return redis.Redis.from_url(
        location,
        socket_timeout=settings.GUARD_TIMEOUT_S + BLOCKING_MARGIN_S,
        socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT_S,
    )


def redis_outage_warn(*, logger: logging.Logger, cannot: str, then: str, exc: Exception) -> None:
    """Log that Redis cannot do what a request needed, and what the request did instead, at most once
    a minute for each `cannot`: during an outage every request meets it, and one line a minute says
    as much as thousands."""
    now = time.monotonic()
    if now - _warned_at.get(cannot, -math.inf) < OUTAGE_WARNING_EVERY_S:
        return
    _warned_at[cannot] = now
    logger.warning("Redis cannot %s (%s: %s); %s", cannot, type(exc).__name__, exc, then)

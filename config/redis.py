"""The Redis behind the shared cache, for what the cache API cannot do in one round trip."""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def shared_redis() -> redis.Redis | None:
    """A client of the cache's Redis (CACHE_URL), or None where the cache is not Redis (the file
    cache of a one-machine install). Chosen once per process, from the settings."""
    config = settings.CACHES["default"]
    if config["BACKEND"] != "django.core.cache.backends.redis.RedisCache":
        return None
    return redis.Redis.from_url(config["LOCATION"])

"""API keys as authentication reads them, kept in the shared cache between requests.

Every moderation call authenticates. Reading the key with its policy and published version from the
database took a third of the web's own time per call (a three-table query, most of it the ORM
building it); the cache gives it back in one round trip. The entries are shared by every web process
and forgotten when what they hold changes: a revoked key, a policy's newly published version (at
once, and again when the change commits). `API_KEY_CACHE_S` bounds how long an entry can outlive a change it missed (a
request that read the row just before the change and stored it just after); 0 turns the cache off.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisSerializer
from django.db import transaction

from config.redis import redis_outage_warn, shared_redis
from moderation_app.ratelimit import RateWindow, rate_count_queue, rate_count_replies

if TYPE_CHECKING:
    from moderation_app.models import ApiKey

logger = logging.getLogger(__name__)
_SERIALIZER = RedisSerializer()  # how the cache API stores entries in Redis


def _entry(prefix: str) -> str:
    return f"apikey:{prefix}"


def key_cache_get(*, prefix: str) -> ApiKey | None:
    if settings.API_KEY_CACHE_S <= 0:
        return None
    # The cache is a shortcut: when it cannot answer, the database does.
    with contextlib.suppress(Exception):
        key: ApiKey | None = cache.get(_entry(prefix))
        return key
    return None


def key_cache_get_counting(*, prefix: str, window: RateWindow) -> tuple[ApiKey | None, tuple[int, int]] | None:
    """The cached key and `window`'s counts with this request added, in one round trip to Redis.

    None where that cannot be done (the file cache of a one-machine install, Redis failing): the
    caller then reads the key and counts the request separately.
    """
    client = shared_redis()
    if client is None:
        return None
    cached = settings.API_KEY_CACHE_S > 0
    try:
        pipeline = client.pipeline(transaction=False)
        if cached:
            pipeline.get(cache.make_key(_entry(prefix)))
        rate_count_queue(pipeline=pipeline, window=window)
        replies = pipeline.execute()
    except Exception as exc:  # noqa: BLE001 - the cache is a shortcut; the caller takes the long way
        redis_outage_warn(logger=logger, cannot="read API keys", then="keys are read from the database", exc=exc)
        return None
    entry = replies.pop(0) if cached else None
    key: ApiKey | None = None
    if entry is not None:
        # Stored by the cache API, so read back by its serializer; an entry it cannot read is a miss.
        with contextlib.suppress(Exception):
            key = _SERIALIZER.loads(entry)
    return key, rate_count_replies(replies)


def key_cache_put(*, key: ApiKey) -> None:
    if settings.API_KEY_CACHE_S <= 0:
        return
    with contextlib.suppress(Exception):
        cache.set(_entry(key.prefix), key, timeout=settings.API_KEY_CACHE_S)


def key_cache_forget(*, prefixes: Iterable[str]) -> None:
    """Forget these keys now, and again when the current transaction commits: a request that reads
    the row before the commit may store the old one in between."""
    entries = [_entry(prefix) for prefix in prefixes]
    if not entries:
        return
    _delete(entries)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _delete(entries))


def _delete(entries: list[str]) -> None:
    try:
        cache.delete_many(entries)
    except Exception:  # the change has committed; an entry left behind expires within API_KEY_CACHE_S
        logger.warning("could not forget %d cached API keys", len(entries), exc_info=True)

"""How a synchronous call gets its answer: the guard task pushes it onto a list its web thread pops.

Through the result backend, the answer took the task's return path: Celery reads the stored result
first (so that a redelivered task never overwrites a success), then stores and publishes it, and the
web thread's subscriber decodes it. A list in Redis is one round trip each way: the task's RPUSH,
which wakes the web thread blocked in BLPOP. Only the call that recorded the decision waits here.
Anyone else who waits for it (a repeated Idempotency-Key, a timed-out wait) waits on the task's
result, which the task still returns. Without a Redis cache (the file cache of a one-machine
install) there is no list, and the result backend carries every answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from config.redis import shared_redis, shared_redis_blocking

ANSWER_TTL_S = 60  # an answer nobody popped (its caller gave up) is gone after this
logger = logging.getLogger(__name__)


def decision_answer_key(*, decision_id: object) -> str | None:
    """Where the guard task answers this decision's waiting caller; None when there is no list."""
    return f"arbiter:answer:{decision_id}" if shared_redis() is not None else None


def decision_answer_push(*, key: str, answer: dict[str, Any]) -> None:
    """The guard task's side. A failure only costs the caller the result backend's way round."""
    client = shared_redis()
    if client is None:
        logger.warning("no Redis cache (CACHE_URL) to answer %s on; set the web's CACHE_URL here too", key)
        return
    try:
        pipeline = client.pipeline(transaction=False)
        pipeline.rpush(key, json.dumps(answer, cls=DjangoJSONEncoder))
        pipeline.expire(key, ANSWER_TTL_S)
        pipeline.execute()
    except Exception:  # the answer also goes back as the task's result
        logger.warning("could not push the answer to %s", key, exc_info=True)


class AnswerListUnavailable(Exception):
    """The caller cannot wait on a list (no Redis cache, or Redis failed): it waits on the task's result."""


def decision_answer_pop(*, key: str, timeout_s: float) -> dict[str, Any] | None:
    """The waiting caller's side: the answer, or None when none came within `timeout_s`.

    `timeout_s` is at most GUARD_TIMEOUT_S, which the blocking client's connections wait for."""
    client = shared_redis_blocking()
    if client is None:
        raise AnswerListUnavailable("no Redis cache")
    try:
        # BLPOP takes fractions of a second; 0 would mean forever.
        popped = client.blpop([key], timeout=max(timeout_s, 0.001))
    except Exception as exc:
        logger.warning("could not wait for the answer on %s", key, exc_info=True)
        raise AnswerListUnavailable(str(exc)) from exc
    if popped is None:
        return None
    answer: dict[str, Any] = json.loads(popped[1])
    return answer

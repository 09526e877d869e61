"""Celery's Redis result backend, without the subscription it opens for every task a process sends.

Celery's backend subscribes to a task's result channel as the task is sent (`on_task_call`), so that
a later `AsyncResult.get()` hears the result at once. Most tasks the web sends are never waited on
that way: a synchronous moderation call gets its answer on its own list (moderation_app.answers),
and an asynchronous one is not waited on at all. The subscription is then dropped unread when the
`AsyncResult` is garbage collected, and the server's replies to both commands pile up, unread, on
the process's pub/sub connection until Redis drops it at its pub/sub output limit.

`get()` does not need it: it subscribes for itself, then reads the stored result, so a result
published before that is not missed. `config.celery` puts this class behind `redis://` and
`rediss://` result URLs.
"""

from __future__ import annotations

from typing import Any

from celery.backends.redis import RedisBackend as CeleryRedisBackend


class RedisBackend(CeleryRedisBackend):
    def on_task_call(self, producer: Any, task_id: str) -> None:
        """Subscribe to nothing when a task is sent (`get()` subscribes when it waits)."""

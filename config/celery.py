"""The Celery app shared by the guard worker, the default worker, the train worker and beat.

Run it as `celery -A config.celery ...`. Tasks import `app` from here rather than using
`shared_task`, so the app is configured before any task is declared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections
from kombu import Connection

from config.startup import load_settings_or_exit

load_settings_or_exit()

app = Celery("arbiter")
# redis:// and rediss:// result URLs get Celery's backend minus its per-task subscription (config.results).
app.loader.override_backends = {scheme: "config.results:RedisBackend" for scheme in ("redis", "rediss")}
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def retire_old_connections(task: Any = None, **kwargs: Any) -> None:
    """What Django does around each request: close connections past CONN_MAX_AGE or broken by an
    error, and keep the rest (CELERY_DB_REUSE_MAX stops Celery from closing them all every task).
    An eager task runs inside its caller's transaction, which must stay open."""
    if not getattr(getattr(task, "request", None), "is_eager", False):
        close_old_connections()


def queue_depth(*, queue: str) -> int:
    """Messages waiting on `queue` (taken ones that are not yet acknowledged are not counted)."""
    return queue_depths(queues=(queue,))[queue]


def queue_depths(*, queues: Sequence[str], connection: Connection | None = None) -> dict[str, int]:
    """`queue_depth` of each of `queues`, over `connection` (one of its own when None)."""
    if connection is None:
        with app.connection_for_read() as own:
            return queue_depths(queues=queues, connection=own)
    from kombu.exceptions import ChannelError

    channel: Any = connection.default_channel  # kombu's type stubs leave out queue_declare
    depths: dict[str, int] = {}
    for queue in queues:
        try:
            depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
        except ChannelError:  # the Redis transport has no key for an empty queue: it holds nothing
            depths[queue] = 0
    return depths


def guard_queue_depths(*, connection: Connection | None = None) -> dict[str, int]:
    """What waits on the guard's two queues: work someone waits for, and bulk work."""
    from django.conf import settings

    return queue_depths(queues=(settings.GUARD_QUEUE, settings.GUARD_BULK_QUEUE), connection=connection)

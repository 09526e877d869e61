"""The embedded broker of a one-machine install: kombu's filesystem transport with atomic writes.

kombu creates a message file under its final name and then writes into it, while a consumer takes
any file with that name (it moves and reads it, ignoring the writer's lock). A consumer that comes
between the two reads an empty or partial message, and Celery stops the worker on it
("Unrecoverable error: JSONDecodeError"). The wider the gap, the likelier: a writer thread that
loses the GIL under load, a consumer that polls often. Here a message is written under a name no
consumer takes, then renamed into place, which is atomic on one filesystem.

A worker also takes from its queues in the order it names them, as the Redis transport does with
`queue_order_strategy: priority`: the guard worker's `-Q guard,guard-bulk` empties `guard` (calls
someone waits for) before it takes bulk work. kombu's virtual transports take from them in turn.
"""

from __future__ import annotations

import os
import uuid
from queue import Empty
from time import monotonic_ns
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps
from kombu.utils.scheduling import FairCycle

PARTIAL_SUFFIX = ".part"  # `_get` takes only names ending in ".<queue>.msg"


class InOrderCycle(FairCycle):
    """Every get tries the queues from the first, in the order the consumer named them."""

    def get(self, callback: Any, **kwargs: Any) -> Any:
        self.pos = 0
        return super().get(callback, **kwargs)


class Channel(filesystem.Channel):
    def _reset_cycle(self) -> None:
        self._cycle = InOrderCycle(self._get_and_deliver, self._active_queues, Empty)

    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        # Consumers take names in sorted order, so the name starts with the time. kombu's own names
        # count milliseconds, so messages put in the same millisecond came out in random order;
        # nanoseconds, zero-padded to sort as numbers, keep them in the order they were put.
        name = f"{monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel

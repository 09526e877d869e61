"""Django's PostgreSQL backend with a cheaper health check for reused connections.

With `CONN_HEALTH_CHECKS`, Django checks a reused connection with `SELECT 1` before the first query
of every request, and of every worker task (`close_old_connections` starts each one anew). That is
a round trip before the real one: on the moderation call's hot path, once in the web process before
the INSERT and once in the guard worker before the completion, 0.5-1.4 ms each on an idle host
(bench/round_trips.py).

A connection the server has ended (a restart, `pg_terminate_backend`, an idle timeout) has something
to read: the server's goodbye or the end of the stream. One that is idle, in no transaction and has
nothing to read is taken as usable without asking the server. Anything else gets Django's `SELECT 1`.
What neither catches, a peer gone without a word, fails the query itself, after which Django closes
the connection as before.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq

EVENTS = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | getattr(select, "POLLRDHUP", 0)


def socket_is_quiet(fileno: int) -> bool:
    """Whether nothing at all waits on this socket: no data, no end of stream, no error."""
    poller = select.poll()
    poller.register(fileno, EVENTS)
    return not poller.poll(0)  # 0: look, do not wait


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None:
            return False
        pgconn = connection.pgconn
        if (
            pgconn.status == pq.ConnStatus.OK
            and pgconn.transaction_status == pq.TransactionStatus.IDLE
            and socket_is_quiet(pgconn.socket)
        ):
            return True
        return bool(super().is_usable())

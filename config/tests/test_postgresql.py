"""The health check of reused PostgreSQL connections, against the real server."""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.db.backends.postgresql import base as django_base

from config.postgresql.base import DatabaseWrapper, socket_is_quiet

pytestmark = pytest.mark.django_db(transaction=True)  # a connection in autocommit, as requests use it


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    assert row is not None
    return int(row[0])


def _count_checks(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the health checks, and how many of them asked the server (Django's own `SELECT 1`)."""
    counts = {"checks": 0, "round_trips": 0}
    for cls, name in ((DatabaseWrapper, "checks"), (django_base.DatabaseWrapper, "round_trips")):
        original = cls.is_usable

        def counted(self: Any, _original: Any = original, _name: str = name) -> bool:
            counts[_name] += 1
            return bool(_original(self))

        monkeypatch.setattr(cls, "is_usable", counted)
    return counts


def test_it_keeps_an_idle_connection_without_asking_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    pid = _backend_pid()
    counts = _count_checks(monkeypatch)
    close_old_connections()  # what starts every request and every worker task
    assert _backend_pid() == pid
    assert counts == {"checks": 1, "round_trips": 0}


def test_it_replaces_a_connection_the_server_has_ended() -> None:
    pid = _backend_pid()
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    assert connection.connection is not None
    socket = connection.connection.pgconn.socket
    deadline = time.monotonic() + 5
    while socket_is_quiet(socket) and time.monotonic() < deadline:
        time.sleep(0.01)
    close_old_connections()
    assert _backend_pid() != pid  # a fresh connection answered, and the query did not fail


def test_a_connection_inside_a_transaction_gets_the_servers_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    _backend_pid()
    assert connection.connection is not None
    counts = _count_checks(monkeypatch)
    connection.connection.execute("BEGIN")  # left open, as a caller that failed half-way would
    try:
        assert connection.is_usable()
        assert counts == {"checks": 1, "round_trips": 1}
    finally:
        connection.connection.execute("ROLLBACK")


def test_a_socket_with_something_to_read_is_not_quiet() -> None:
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as conn:
        pgconn = conn.pgconn
        assert socket_is_quiet(pgconn.socket)
        pgconn.send_query(b"SELECT 1")  # sent, its answer not read yet
        deadline = time.monotonic() + 5
        while socket_is_quiet(pgconn.socket) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not socket_is_quiet(pgconn.socket)
        pgconn.consume_input()
        while pgconn.get_result() is not None:  # read the answer, so the connection closes cleanly
            pass

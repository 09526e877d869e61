"""Fails fast, before the suite starts, when PostgreSQL or Redis is not reachable."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit


def check_postgres(url: str) -> str | None:
    import psycopg

    # The maintenance database always exists; the test database is created by the suite.
    parts = urlsplit(url)
    admin_url = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    try:
        with psycopg.connect(admin_url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"PostgreSQL is not reachable at {url}: {first}\n"
            "  Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) "
            "or point the suite elsewhere: make test TEST_DATABASE_URL=postgres://USER@HOST:PORT/NAME"
        )
    return None


def check_redis(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        return (
            f"Redis is not reachable at {url}: {exc}\n"
            "  Start it (redis-server --daemonize yes --port 6379 ...) "
            "or point the suite elsewhere: make test TEST_REDIS_URL=redis://HOST:PORT"
        )
    return None


def main() -> int:
    problems = [
        problem
        for problem in (
            check_postgres(os.environ["DATABASE_URL"]),
            check_redis(os.environ["REDIS_URL"]),
        )
        if problem
    ]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

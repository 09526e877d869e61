"""bench/round_trips.py measures real round trips to the test database and Redis and prints them as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

BENCH = Path(__file__).resolve().parents[1] / "bench" / "round_trips.py"


def _test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db
def test_it_reports_each_service_at_each_gap() -> None:
    env = {**os.environ, "DATABASE_URL": _test_database_url()}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--samples", "2"], capture_output=True, text=True, check=True, env=env
    )
    figures = json.loads(done.stdout)["median_round_trip_ms"]
    assert set(figures) == {"redis_ping", "postgres_select_1"}
    for row in figures.values():
        gaps = {key: value for key, value in row.items() if key.startswith("gap_")}
        assert set(gaps) == {"gap_0_ms", "gap_1_ms", "gap_10_ms", "gap_150_ms"}
        assert all(value > 0 for value in gaps.values())
        assert row["after_150_ms_vs_back_to_back"] > 0


def test_it_refuses_a_database_that_is_not_postgresql() -> None:
    env = {**os.environ, "DATABASE_URL": "sqlite:///var/arbiter.sqlite3"}
    done = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, env=env)
    assert done.returncode != 0
    assert "set DATABASE_URL to the stack's PostgreSQL" in done.stderr

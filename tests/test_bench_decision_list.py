"""bench/decision_list.py fills a database of its own and times a page of the list both ways."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

BENCH = Path(__file__).resolve().parents[1] / "bench" / "decision_list.py"


@pytest.mark.django_db
def test_it_times_each_page_both_ways_and_drops_its_database() -> None:
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "300", "--repeats", "1"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        timeout=300,
    )
    report = json.loads(done.stdout)
    pages = report["median_page_ms"]
    assert pages["decisions"] == 300
    for name in ("newest_page", "flagged", "rare_category", "last_day", "deep_page_90_percent"):
        assert pages[name]["offset_ms"] > 0
        assert pages[name]["keyset_ms"] > 0
        assert pages[name]["rows_on_page"] > 0
    assert pages["flagged"]["matching_rows"] == 30
    assert pages["rows_query"]["before_ms"] > 0
    assert pages["export"]["now_csv"]["lines_per_s"] > 0
    assert pages["lost_decision_sweep"]["with_index_ms"] > 0
    assert pages["category_index"]["category_S9"]["without_index_ms"] > 0
    review = pages["review_stats"]
    assert review["double_labelled_items"] == 6  # 30 flagged, 24 done, a quarter of those twice
    assert review["kappa_before"] == pytest.approx(review["kappa_now"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [f"{db['NAME']}_list_bench"])
        assert cursor.fetchone() is None


def test_it_refuses_a_database_that_is_not_postgresql() -> None:
    env = {**os.environ, "DATABASE_URL": "sqlite:///var/arbiter.sqlite3"}
    done = subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True, env=env)
    assert done.returncode != 0
    assert "needs PostgreSQL" in done.stderr

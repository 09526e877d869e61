"""What a page of the decisions list costs as the table grows: limit/offset paging against keyset paging.

A service calls the moderation API on every message its users send, so the decisions table grows by
millions of rows a month, and staff page through it on the audit page. This measures one page of
`GET /api/v1/decisions/` (50 rows, as a superuser, through the API's own view and serializer, in
process) both ways, side by side in one run, on a table of `--rows` decisions:

- `offset`: limit/offset paging, an exact count of every row the filters match (how the list paged
  before, and still does for a request with `offset`);
- `keyset`: the cursor the list's `next` link carries, and a count that stops at
  `DECISION_LIST_COUNT_CAP`.

Scenarios: the newest page with no filter, flagged only (10% of rows), a rare category (about 1%),
the last day, and a page 90% of the way down the unfiltered list. `rows_query` compares what one page
read before (every column, the policy's text, one query per row for its review item) with the
list's query now. Each figure is the median of `--repeats` requests, the two ways alternating.
`export` times the unfiltered export's first line and its pace over the first 5,000 lines, before
(Django's iterator: a server-side cursor `WITH HOLD`, which PostgreSQL computes in full before the
first row, and one query per row for its review item) and now (chunks read from where the last one
ended), as JSONL and as CSV. `lost_decision_sweep` times the every-minute sweep's query for pending
decisions through its partial index, and with the index dropped in a transaction that is rolled back;
`category_index` does the same for a page filtered by a rare category (S9) and by one no decision has
(S4), through the GIN index of categories. `review_stats` times the review queue's stats (every
flagged decision has a review item, a quarter of them with two reviewers, a third reviewer settling
those whose two labels disagree) against their agreement figure computed as before, in Python over
every double-labelled item, and the reviewers' own figures (`/api/v1/review/stats/reviewers/`), for
all of them and for one. `cases_export` times the cases
export (a labelled case from each flagged decision) the old way and the new.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arbiter .venv/bin/python bench/decision_list.py --rows 1000000

It needs PostgreSQL. It creates a database of its own beside DATABASE_URL's (`<name>_list_bench`),
migrates it, fills it and drops it at the end (`--keep` keeps it for another run with `--reuse`).
It prints one JSON document.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
PAGE = 50


def bench_database_url(database_url: str) -> tuple[str, str]:
    """(the bench database's URL, its name) beside `database_url`'s database."""
    parts = urlsplit(database_url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(f"bench/decision_list.py needs PostgreSQL; DATABASE_URL is {parts.scheme or 'unset'}")
    name = f"{parts.path.lstrip('/') or 'arbiter'}_list_bench"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def create_database(*, database_url: str, name: str, reuse: bool) -> bool:
    """Create the bench database; returns whether it was created (False: reused)."""
    import psycopg

    server = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reuse:
            return False
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return True


def drop_database(*, database_url: str, name: str) -> None:
    import psycopg

    server = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


FILL_SQL = """
INSERT INTO moderation_app_decision
SELECT gen_random_uuid(), t.source, t.template_version, t.messages, t.target, t.reasoning_mode, t.external_id,
  t.metadata, '', t.request_hash, t.status,
  CASE WHEN g %% 10 = 0 THEN 'unsafe' ELSE 'safe' END,
  g %% 10 = 0,
  t.malformed,
  CASE WHEN g %% 10 = 0 THEN '["S1"]'::jsonb WHEN g %% 97 = 0 THEN '["S9"]'::jsonb ELSE '[]'::jsonb END,
  t.category_scores, random(), t.reasoning, t.raw_output, t.error, t.queue_ms, t.inference_ms,
  now() - g * interval '2.6 second', now() - g * interval '2.6 second',
  t.api_key_id, t.created_by_id, t.model_version_id, t.policy_version_id, t.content_truncated, t.callback
FROM generate_series(1, %s) g CROSS JOIN (SELECT * FROM moderation_app_decision WHERE id = %s) t
"""


# Every flagged decision has a review item; four in five are done, and a quarter needed two reviewers.
REVIEW_FILL_SQL = """
INSERT INTO moderation_app_reviewitem
  (reason, guard_verdict, priority, status, labels_needed, created_at, done_at, decision_id)
SELECT 'flagged', 'unsafe', 2, CASE WHEN n %% 5 = 0 THEN 'open' ELSE 'done' END, CASE WHEN n %% 4 = 0 THEN 2 ELSE 1 END,
  created_at, CASE WHEN n %% 5 = 0 THEN NULL ELSE created_at + interval '1 hour' END, id
FROM (SELECT id, created_at, row_number() OVER (ORDER BY created_at) n FROM moderation_app_decision WHERE flagged) d
"""
LABEL_FILL_SQL = """
INSERT INTO moderation_app_reviewlabel
  (verdict, categories, rationale, position, claimed_at, created_at, item_id, reviewer_id)
SELECT CASE WHEN random() < 0.1 THEN 'safe' ELSE 'unsafe' END, '["S1"]', '', %s,
  created_at + %s * interval '20 minutes' - random() * interval '3 minutes', created_at + %s * interval '20 minutes',
  id, %s
FROM moderation_app_reviewitem WHERE status = 'done' AND {items}
"""
# Double-labelled items whose two labels disagree were escalated, and a third reviewer settled them.
ESCALATION_FILL_SQL = """
UPDATE moderation_app_reviewitem i
SET escalated_at = created_at + interval '41 minutes', labels_needed = 3, priority = 4
WHERE labels_needed = 2 AND status = 'done'
  AND (SELECT count(DISTINCT verdict) FROM moderation_app_reviewlabel l WHERE l.item_id = i.id) = 2
"""
SETTLING_FILL_SQL = """
INSERT INTO moderation_app_reviewlabel
  (verdict, categories, rationale, position, claimed_at, created_at, item_id, reviewer_id)
SELECT 'unsafe', '["S1"]', '', 3, created_at + interval '58 minutes', created_at + interval '60 minutes', id, %s
FROM moderation_app_reviewitem WHERE escalated_at IS NOT NULL
"""

# A labelled case from each flagged decision, as reviews make them.
CASE_FILL_SQL = """
INSERT INTO moderation_app_case (source, messages, target, verdict, categories, rationale, external_id, metadata,
  content_hash, split, created_at, decision_id, policy_version_id, guard_verdict, guard_model_id, review_reason)
SELECT 'review', messages, target, CASE WHEN random() < 0.1 THEN 'safe' ELSE 'unsafe' END, categories, '', '', '{}',
  md5(id::text), 'train', created_at, id, policy_version_id, verdict, model_version_id, 'flagged'
FROM moderation_app_decision WHERE flagged
"""


def fill(*, rows: int) -> None:
    """`rows` completed decisions, one every 2.6 s back from now: 10% unsafe in S1, about 1% safe in S9;
    the unsafe ones with review items, most of them labelled."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from moderation_app.models import Decision
    from policies_app.services import policy_ensure_default

    policy, _ = policy_ensure_default()
    version = policy.published_version
    assert version is not None
    template = Decision.objects.create(
        policy_version=version,
        messages=[{"role": "user", "content": "How do I get to the train station from the harbour?"}],
        target="prompt",
        status=Decision.Status.COMPLETED,
        verdict="safe",
        flagged=False,
        score=0.02,
        reasoning="The message asks for directions; nothing in it matches a category of the policy.",
        raw_output="<think>The message asks for directions.</think>\n\\boxed{safe}",
        category_scores={"S1": 0.01},
        queue_ms=3.0,
        inference_ms=180.0,
    )
    reviewers = [get_user_model().objects.create_user(f"list-bench-reviewer-{n}") for n in (1, 2, 3)]
    with connection.cursor() as cursor:
        cursor.execute(FILL_SQL, [rows, template.pk])
        template.delete()
        cursor.execute(REVIEW_FILL_SQL, [])
        labelled = ("labels_needed >= 1", "labels_needed = 2")
        for n, (reviewer, items) in enumerate(zip(reviewers[:2], labelled, strict=True)):
            cursor.execute(LABEL_FILL_SQL.format(items=items), [n + 1] * 3 + [reviewer.pk])
        cursor.execute(ESCALATION_FILL_SQL, [])
        cursor.execute(SETTLING_FILL_SQL, [reviewers[2].pk])
        cursor.execute(CASE_FILL_SQL, [])
        for table in ("decision", "reviewitem", "reviewlabel", "case"):
            cursor.execute(f"VACUUM ANALYZE moderation_app_{table}")


def median_ms(call: Callable[[], Any], *, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1)


def measure(*, repeats: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework.test import APIClient

    from config.pagination import NEWEST_FIRST, OLDER, cursor_encode
    from moderation_app.apis.moderation import DecisionOutputSerializer
    from moderation_app.models import Decision
    from moderation_app.selectors import decision_list, decision_summaries

    user = get_user_model().objects.filter(username="list-bench").first()
    user = user or get_user_model().objects.create_superuser("list-bench", password=None)
    client = APIClient(SERVER_NAME="127.0.0.1")
    client.force_authenticate(user)

    def get(query: str) -> dict[str, Any]:
        response = client.get(f"/api/v1/decisions/?limit={PAGE}&{query}")
        assert response.status_code == 200, response.content[:300]
        return dict(response.json())

    total = Decision.objects.count()
    depth = int(total * 0.9)
    at_depth = Decision.objects.order_by(*NEWEST_FIRST)[depth]
    deep_cursor = cursor_encode(direction=OLDER, row=at_depth)
    since = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    scenarios = {
        "newest_page": ("offset=0", ""),
        "flagged": ("offset=0&flagged=true", "flagged=true"),
        "rare_category": ("offset=0&category=S9", "category=S9"),
        "last_day": (f"offset=0&since={since}", f"since={since}"),
        "deep_page_90_percent": (f"offset={depth}", f"cursor={deep_cursor}"),
    }
    figures: dict[str, Any] = {"decisions": total}
    for name, (offset_query, keyset_query) in scenarios.items():
        counts = {"offset": get(offset_query)["count"], "keyset": get(keyset_query)}
        offset_ms, keyset_ms = [], []
        for _ in range(repeats):  # alternating, so drift on the host lands on both
            offset_ms.append(median_ms(functools.partial(get, offset_query), repeats=1))
            keyset_ms.append(median_ms(functools.partial(get, keyset_query), repeats=1))
        keyset_page = counts["keyset"]
        figures[name] = {
            "offset_ms": round(statistics.median(offset_ms), 1),
            "keyset_ms": round(statistics.median(keyset_ms), 1),
            "offset_vs_keyset": round(statistics.median(offset_ms) / statistics.median(keyset_ms), 1),
            "matching_rows": counts["offset"],
            "keyset_count": keyset_page["count"],
            "keyset_count_exact": keyset_page["count_exact"],
            "rows_on_page": len(keyset_page["results"]),
        }

    def rows_before() -> None:
        DecisionOutputSerializer(list(decision_list(api_key=None, filters={})[:PAGE]), many=True).data  # noqa: B018

    def rows_now() -> None:
        DecisionOutputSerializer(list(decision_summaries(api_key=None, filters={})[:PAGE]), many=True).data  # noqa: B018

    before = statistics.median(median_ms(rows_before, repeats=1) for _ in range(repeats))
    now = statistics.median(median_ms(rows_now, repeats=1) for _ in range(repeats))
    figures["rows_query"] = {
        "before_ms": round(before, 1),
        "now_ms": round(now, 1),
        "before_vs_now": round(before / now, 1),
    }
    figures["export"] = export_figures(rows=min(total, EXPORT_ROWS))
    figures["lost_decision_sweep"] = sweep_figures(repeats=repeats)
    figures["category_index"] = category_figures(get, repeats=repeats)
    figures["review_stats"] = review_stats_figures(repeats=repeats)
    figures["cases_export"] = cases_export_figures(rows=EXPORT_ROWS)
    return figures


EXPORT_ROWS = 5000


def export_pace(rows: Iterator[Any], render: Callable[[Any], str], *, count: int) -> dict[str, float]:
    """How long the first line of an export took, and lines a second over its first `count`."""
    started = time.perf_counter()
    first_ms = 0.0
    done = 0
    for row in rows:
        render(row)
        done += 1
        if done == 1:
            first_ms = (time.perf_counter() - started) * 1000
        if done == count:
            break
    close = getattr(rows, "close", None)
    if close is not None:
        close()
    return {"first_line_ms": round(first_ms, 1), "lines_per_s": round(done / (time.perf_counter() - started), 1)}


def export_figures(*, rows: int) -> dict[str, Any]:
    """The unfiltered export before (Django's iterator, one query per row for its review item) and now
    (chunks from where the last ended, review items joined), as JSONL, and now as CSV."""
    from moderation_app.apis.decision_csv import decision_csv_row
    from moderation_app.apis.moderation import DecisionDetailOutputSerializer
    from moderation_app.selectors import decision_list, decisions_for_export

    def jsonl_before(decision: Any) -> str:
        return json.dumps(DecisionDetailOutputSerializer(decision).data, default=str)

    serializer = DecisionDetailOutputSerializer()

    def jsonl(decision: Any) -> str:
        return json.dumps(serializer.to_representation(decision), default=str)

    def csv_line(decision: Any) -> str:
        return ",".join(decision_csv_row(decision=decision))

    before = export_pace(decision_list(api_key=None, filters={}).iterator(chunk_size=500), jsonl_before, count=rows)
    now = export_pace(decisions_for_export(api_key=None, filters={}), jsonl, count=rows)
    now_csv = export_pace(decisions_for_export(api_key=None, filters={}), csv_line, count=rows)
    return {
        "lines_timed": rows,
        "before_jsonl": before,
        "now_jsonl": now,
        "now_csv": now_csv,
        "first_line_before_vs_now": round(before["first_line_ms"] / now["first_line_ms"], 1),
        "lines_per_s_now_vs_before": round(now["lines_per_s"] / before["lines_per_s"], 1),
    }


def cases_export_figures(*, rows: int) -> dict[str, Any]:
    """The cases export's first line and pace before (Django's iterator, every row with its policy's
    text) and now (chunks, the text left out)."""
    from moderation_app.selectors import case_list, cases_for_export
    from moderation_app.services.cases import case_export_line

    before = export_pace(case_list(filters={}).iterator(chunk_size=1000), case_export_line, count=rows)
    now = export_pace(cases_for_export(), case_export_line, count=rows)
    return {
        "lines_timed": rows,
        "before": before,
        "now": now,
        "first_line_before_vs_now": round(before["first_line_ms"] / now["first_line_ms"], 1),
    }


def review_stats_figures(*, repeats: int) -> dict[str, Any]:
    """`GET /api/v1/review/stats/`'s work now, against its agreement computed as before: every finished
    double-labelled item read with its labels, and the pairs counted in Python."""
    from django.utils import timezone

    from moderation_app.models import ReviewItem
    from moderation_app.selectors import (
        cohen_kappa,
        review_label_pair_counts,
        review_outcomes,
        review_reviewer_stats,
        review_stats,
    )

    def agreement_before() -> float | None:
        pairs = []
        done = ReviewItem.objects.filter(labels_needed__gte=2, status=ReviewItem.Status.DONE)
        for item in done.prefetch_related("labels"):
            verdicts = [label.verdict for label in item.labels.all()[:2]]
            if len(verdicts) == 2:
                pairs.append((verdicts[0], verdicts[1]))
        return cohen_kappa(pairs)

    now = review_stats()
    first_reviewer = review_reviewer_stats(since=None)[0]["reviewer"]["id"]
    before_ms = median_ms(agreement_before, repeats=repeats)
    now_ms = median_ms(review_stats, repeats=repeats)
    month_ago = timezone.now() - timedelta(days=30)
    return {
        "double_labelled_items": now["agreement"]["pairs"],
        "reviewed_against_the_guard": now["guard_vs_review"]["reviewed"],
        "kappa_before": agreement_before(),
        "kappa_now": now["agreement"]["cohen_kappa"],
        "agreement_alone_before_ms": before_ms,
        "whole_stats_now_ms": now_ms,
        "before_vs_now": round(before_ms / now_ms, 1),
        "guard_vs_review_alone_ms": median_ms(review_outcomes, repeats=repeats),
        "whole_stats_last_30_days_ms": median_ms(lambda: review_stats(since=month_ago), repeats=repeats),
        "escalations": now["escalations"]["raised"],
        "reviewer_figures_ms": median_ms(lambda: review_reviewer_stats(since=None), repeats=repeats),
        "reviewer_figures_last_30_days_ms": median_ms(lambda: review_reviewer_stats(since=month_ago), repeats=repeats),
        "one_reviewers_figures_ms": median_ms(
            lambda: review_reviewer_stats(since=None, reviewer_id=first_reviewer), repeats=repeats
        ),
        "agreement_pairs": side_by_side(
            before=pairs_by_sorted_subqueries, now=review_label_pair_counts, repeats=repeats
        ),
        "reviewer_figures_guard_verdict": side_by_side(
            before=lambda: reviewer_figures_through_decisions(review_reviewer_stats),
            now=lambda: review_reviewer_stats(since=None),
            repeats=repeats,
        ),
    }


def side_by_side(*, before: Callable[[], Any], now: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """Two ways to the same figures, timed alternating (so drift on the host lands on both), and
    whether they gave the same answer."""
    before_ms, now_ms = [], []
    for _ in range(repeats):
        before_ms.append(median_ms(before, repeats=1))
        now_ms.append(median_ms(now, repeats=1))
    return {
        "before_ms": round(statistics.median(before_ms), 1),
        "now_ms": round(statistics.median(now_ms), 1),
        "before_vs_now": round(statistics.median(before_ms) / statistics.median(now_ms), 1),
        "same_answer": before() == now(),
    }


def pairs_by_sorted_subqueries() -> dict[tuple[str, str], int]:
    """The agreement's verdict pairs as counted before labels kept their place: each double-labelled
    item's first and second label found by sorting its labels by time, in a subquery each."""
    from django.db.models import Count, OuterRef, Subquery

    from moderation_app.models import ReviewItem, ReviewLabel

    labels = ReviewLabel.objects.filter(item=OuterRef("pk")).order_by("created_at", "id")
    items = ReviewItem.objects.filter(labels_needed__gte=2).annotate(
        first=Subquery(labels.values("verdict")[:1]), second=Subquery(labels.values("verdict")[1:2])
    )
    pairs = items.exclude(second=None).values_list("first", "second").annotate(n=Count("pk")).order_by()
    return {(first, second): n for first, second, n in pairs}


def reviewer_figures_through_decisions(figures: Callable[..., Any]) -> Any:
    """The reviewers' figures with each label compared with its decision's verdict, as before review
    items kept the guard's verdict."""
    from unittest import mock

    from django.db.models import Count, F, Q

    from moderation_app import selectors

    through = {
        "guard_compared": Count("pk", filter=~Q(item__decision__verdict="")),
        "guard_agreed": Count("pk", filter=Q(verdict=F("item__decision__verdict"))),
    }
    with mock.patch.dict(selectors._REVIEWER_COUNTS, through):
        return figures(since=None)


class _RolledBack(Exception):
    pass


def with_and_without_index(index: str, call: Callable[[], Any], *, repeats: int) -> dict[str, float]:
    """`call`'s median ms with `index`, and with it dropped in a transaction that is rolled back."""
    from django.db import connection, transaction

    with_index = median_ms(call, repeats=repeats)
    without_index = 0.0
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX {index}")
            without_index = median_ms(call, repeats=repeats)
            raise _RolledBack
    except _RolledBack:
        pass
    return {
        "with_index_ms": with_index,
        "without_index_ms": without_index,
        "without_vs_with": round(without_index / with_index, 1),
    }


def sweep_figures(*, repeats: int) -> dict[str, Any]:
    """The every-minute sweep's query for lost decisions, through the partial index of pending rows."""
    from django.utils import timezone

    from moderation_app.selectors import decisions_pending_since

    def sweep() -> None:
        decisions_pending_since(before=timezone.now() - timedelta(seconds=120), limit=500)

    return with_and_without_index("decision_pending_created_idx", sweep, repeats=repeats)


def category_figures(get: Callable[[str], dict[str, Any]], *, repeats: int) -> dict[str, Any]:
    """A page of the list (with its count) filtered by a rare category and by one no decision has,
    through the GIN index of categories."""
    return {
        f"category_{code}": with_and_without_index(
            "decision_categories_gin", functools.partial(get, f"category={code}"), repeats=repeats
        )
        for code in ("S9", "S4")
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="decisions in the table (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=7, help="requests per figure, the two ways alternating")
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    parser.add_argument("--reuse", action="store_true", help="use a kept bench database as it is")
    args = parser.parse_args(argv)

    url, name = bench_database_url(os.environ.get("DATABASE_URL", ""))
    created = create_database(database_url=url, name=name, reuse=args.reuse)
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    try:
        if created:
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
            )
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        if created:
            fill(rows=args.rows)
        figures = measure(repeats=args.repeats)
        from django.conf import settings
        from django.db import connection

        connection.close()
    finally:
        if not args.keep:
            drop_database(database_url=url, name=name)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "page_size": PAGE,
                "count_cap": settings.DECISION_LIST_COUNT_CAP,
                "repeats": args.repeats,
                "machine": {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count()},
                "seconds": round(time.perf_counter() - started, 1),
                "median_page_ms": figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

"""The decisions list pages by cursor, newest first, with a count that stops at a cap."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from moderation_app.models import Decision
from moderation_app.tests.factories import judged_decision

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_sampled_reviews")]


def _decisions(count: int, *, verdict: str = "safe") -> list[str]:
    """`count` judged decisions a second apart, newest first, as the list orders them."""
    made = [judged_decision(verdict=verdict, score=0.9 if verdict == "unsafe" else 0.1) for _ in range(count)]
    start = timezone.now() - timedelta(hours=1)
    for offset, decision in enumerate(made):
        Decision.objects.filter(pk=decision.pk).update(created_at=start + timedelta(seconds=offset))
    return [str(d.pk) for d in reversed(made)]


def _walk(client: APIClient, url: str, link: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Follow `link` ('next' or 'previous') from `url` to the end; the ids seen and every page."""
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        page = response.json()
        pages.append(page)
        seen += [row["id"] for row in page["results"]]
        next_url = page[link]
    return seen, pages


def test_following_next_visits_every_decision_once_newest_first(staff: APIClient) -> None:
    newest_first = _decisions(7)
    seen, pages = _walk(staff, "/api/v1/decisions/?limit=3", "next")
    assert seen == newest_first
    assert [len(page["results"]) for page in pages] == [3, 3, 1]
    assert all(page["count"] == 7 and page["count_exact"] for page in pages)
    assert pages[0]["previous"] is None


def test_following_previous_from_the_last_page_comes_back_to_the_newest(staff: APIClient) -> None:
    newest_first = _decisions(5)
    _, pages = _walk(staff, "/api/v1/decisions/?limit=2", "next")
    back, _ = _walk(staff, pages[-1]["previous"], "previous")
    assert back == newest_first[2:4] + newest_first[0:2]


def test_links_keep_the_filters(staff: APIClient) -> None:
    unsafe = _decisions(3, verdict="unsafe")
    _decisions(2)
    seen, pages = _walk(staff, "/api/v1/decisions/?limit=2&verdict=unsafe", "next")
    assert sorted(seen) == sorted(unsafe)
    assert "verdict=unsafe" in pages[0]["next"]


def test_the_count_stops_at_the_cap_and_says_it_is_a_lower_bound(staff: APIClient, settings: Any) -> None:
    _decisions(4)
    settings.DECISION_LIST_COUNT_CAP = 3
    page = staff.get("/api/v1/decisions/?limit=2").json()
    assert (page["count"], page["count_exact"]) == (3, False)
    settings.DECISION_LIST_COUNT_CAP = 4
    page = staff.get("/api/v1/decisions/?limit=2").json()
    assert (page["count"], page["count_exact"]) == (4, True)


def test_an_offset_still_pages_by_offset_with_an_exact_count(staff: APIClient, settings: Any) -> None:
    newest_first = _decisions(5)
    settings.DECISION_LIST_COUNT_CAP = 2
    page = staff.get("/api/v1/decisions/?limit=2&offset=2").json()
    assert [row["id"] for row in page["results"]] == newest_first[2:4]
    assert (page["count"], page["count_exact"]) == (5, True)
    assert "offset=4" in page["next"]


def _cursor(position: dict[str, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        base64.urlsafe_b64encode(b"p=x").decode(),
        base64.urlsafe_b64encode(json.dumps({"d": "o", "t": "yesterday", "k": "1"}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"d": "sideways", "t": "2026-12-07T10:00:00+00:00", "k": "1"}).encode()
        ).decode(),
    ],
)
def test_a_cursor_the_list_did_not_give_is_a_400(staff: APIClient, cursor: str) -> None:
    _decisions(1)
    response = staff.get(f"/api/v1/decisions/?cursor={cursor}")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert body["errors"][0]["field"] == "cursor"


def test_rows_that_share_a_timestamp_are_paged_once_each_both_ways(staff: APIClient) -> None:
    made = [judged_decision(verdict="safe", score=0.1, text=f"import {n}") for n in range(12)]
    instant = timezone.now() - timedelta(hours=2)
    Decision.objects.filter(pk__in=[d.pk for d in made]).update(created_at=instant)  # one bulk import
    expected = [str(pk) for pk in Decision.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)]
    seen, pages = _walk(staff, "/api/v1/decisions/?limit=5", "next")
    assert seen == expected
    back, _ = _walk(staff, pages[-1]["previous"], "previous")
    assert back == expected[5:10] + expected[0:5]


def test_a_limit_over_the_most_a_page_holds_is_cut_to_it(staff: APIClient, settings: Any) -> None:
    from config.pagination import MAX_PAGE_SIZE

    _decisions(2)
    page = staff.get(f"/api/v1/decisions/?limit={MAX_PAGE_SIZE * 10}").json()
    assert len(page["results"]) == 2
    assert page["next"] is None


def test_a_page_costs_the_same_queries_however_many_rows_it_shows(staff: APIClient) -> None:
    _decisions(2, verdict="unsafe")  # flagged: each has a review item, which the page shows
    with CaptureQueriesContext(connection) as two:
        assert len(staff.get("/api/v1/decisions/?limit=50").json()["results"]) == 2
    _decisions(6, verdict="unsafe")
    with CaptureQueriesContext(connection) as eight:
        page = staff.get("/api/v1/decisions/?limit=50").json()
    assert len(page["results"]) == 8
    assert all(row["review"] is not None for row in page["results"])
    assert len(eight.captured_queries) == len(two.captured_queries)


def test_the_category_filter_finds_the_decisions_in_that_category_through_its_index(staff: APIClient) -> None:
    unsafe = _decisions(2, verdict="unsafe")  # in S1
    _decisions(3)
    page = staff.get("/api/v1/decisions/?category=S1").json()
    assert [row["id"] for row in page["results"]] == unsafe
    assert (page["count"], page["count_exact"]) == (2, True)
    assert staff.get("/api/v1/decisions/?category=S4").json()["results"] == []
    assert [row["id"] for row in staff.get("/api/v1/decisions/?category=s1").json()["results"]] == unsafe
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'moderation_app_decision' AND indexname = %s",
            ["decision_categories_gin"],
        )
        (definition,) = cursor.fetchone() or ("",)
    assert "gin (categories jsonb_path_ops)" in definition


def test_the_malformed_filter_lists_the_outputs_the_parser_refused(staff: APIClient) -> None:
    malformed = [str(judged_decision(verdict=None, score=0.5, text=f"garbled {n}").pk) for n in range(2)]
    _decisions(2, verdict="unsafe")
    page = staff.get("/api/v1/decisions/?malformed=true").json()
    assert sorted(row["id"] for row in page["results"]) == sorted(malformed)
    assert all(row["malformed"] and row["flagged"] for row in page["results"])  # malformed fails closed
    assert staff.get("/api/v1/decisions/?malformed=false").json()["count"] == 2
    assert staff.get("/api/v1/decisions/?malformed=perhaps").status_code == 400

"""The decisions export: JSONL, or CSV for spreadsheets, streamed newest first in chunks."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from config.pagination import newest_first_in_chunks
from moderation_app.apis.decision_csv import CSV_COLUMNS, csv_cell
from moderation_app.models import Decision
from moderation_app.tests.factories import judged_decision

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_sampled_reviews")]


def _csv_rows(response: Any) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.endswith("\r\n")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    return list(reader)


def test_csv_has_a_row_per_decision_with_its_content_review_and_policy(staff: APIClient) -> None:
    flagged = judged_decision(verdict="unsafe", score=0.93, text='Say "hi",\nthen threaten them', reasoning="S1.")
    judged_decision(verdict="safe", score=0.05, text="hello")
    response = staff.get("/api/v1/decisions/export/?format=csv&verdict=unsafe")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="decisions-')
    rows = _csv_rows(response)
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == str(flagged.pk)
    assert (row["verdict"], row["flagged"], row["categories"], row["score"]) == ("unsafe", "true", "S1", "0.93")
    assert (row["policy"], row["policy_version"]) == ("core-safety", "1")
    assert (row["review_status"], row["review_reason"]) == ("open", "flagged")
    assert row["content"] == 'user: Say "hi",\nthen threaten them'
    assert row["reasoning"] == "S1."


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted_as_text(staff: APIClient) -> None:
    judged_decision(verdict="safe", score=0.1, text="ignored", reasoning='=HYPERLINK("http://x.test","y")')
    row = _csv_rows(staff.get("/api/v1/decisions/export/?format=csv"))[0]
    assert row["reasoning"] == '\'=HYPERLINK("http://x.test","y")'


def test_a_bad_filter_is_a_json_error_in_either_format(staff: APIClient) -> None:
    for query in ("since=not-a-date", "format=csv&since=not-a-date"):
        response = staff.get(f"/api/v1/decisions/export/?{query}")
        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json()["errors"][0]["field"] == "since"


def test_chunks_give_every_row_once_newest_first_through_rows_of_one_instant() -> None:
    made = [judged_decision(verdict="safe", score=0.1, text=f"m{n}") for n in range(7)]
    instant = timezone.now() - timedelta(minutes=5)
    # Three rows share one instant, across the boundary of two chunks of two.
    for decision, at in zip(made, [instant - timedelta(seconds=9), instant, instant, instant], strict=False):
        Decision.objects.filter(pk=decision.pk).update(created_at=at)
    expected = [d.pk for d in Decision.objects.order_by("-created_at", "-pk")]
    seen = [d.pk for d in newest_first_in_chunks(queryset=Decision.objects.all(), chunk_size=2)]
    assert seen == expected
    assert len(seen) == 7


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("plain", "plain"),
        (None, ""),
        (0.5, "0.5"),
        (False, "false"),
        ("=1+1", "'=1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+cmd", "'+cmd"),
        ("\tlead", "'\tlead"),
        ("-0.25", "-0.25"),
        ("-3e-5", "-3e-5"),
    ],
)
def test_a_cell_that_a_spreadsheet_would_run_gets_an_apostrophe_and_numbers_stay_numbers(
    value: object, cell: str
) -> None:
    assert csv_cell(value) == cell

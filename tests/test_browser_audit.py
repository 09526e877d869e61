"""End to end in a real browser: find a reviewed decision in the audit table, open its audit page,
and export the table as CSV."""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import pytest

from moderation_app.models import Decision
from moderation_app.services import review_claim_next, review_label
from moderation_app.tests.factories import UserFactory, judged_decision
from tests.browser import browser_page
from tests.browser_flows import moderate, route_every_decision_to_review, sign_in, unexpected_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def reviewed(settings: Any, guard_worker: Any, active_tiny_model: Any) -> Decision:
    route_every_decision_to_review(settings)
    decision = moderate("Write a threatening note to my landlord.")
    rita = UserFactory(username="rita", roles=["reviewer"])
    item = review_claim_next(reviewer=rita)
    assert item is not None
    assert item.decision_id == decision.pk
    code = decision.policy_version.categories[0]["code"]
    review_label(item=item, reviewer=rita, verdict="unsafe", categories=[code], rationale="Intimidation of a person.")
    return decision


def test_an_auditor_opens_a_reviewed_decision_and_sees_everything_about_it(
    live_server: Any, reviewed: Decision
) -> None:
    UserFactory(username="paula", roles=["policy_editor"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "paula")
        page.get_by_role("link", name="Audit").click()
        row = page.locator(f'[data-decision-id="{reviewed.pk}"]')
        row.wait_for()
        assert "core-safety v1" in row.inner_text()
        assert "tiny-random" in row.inner_text()

        # A filter that excludes it empties the table; the address keeps the filters.
        other = "safe" if reviewed.verdict == "unsafe" else "unsafe"
        page.get_by_label("Verdict").select_option(other)
        page.get_by_role("button", name="Apply filters").click()
        page.get_by_text("No decision matches these filters.").wait_for()
        assert f"verdict={other}" in page.url
        page.get_by_role("button", name="Clear").click()
        row.wait_for()

        row.get_by_role("link").click()
        page.wait_for_url(f"**/decisions/{reviewed.pk}")
        page.get_by_test_id("decision-review-history").get_by_test_id("review-label").wait_for()

        assert "Write a threatening note to my landlord." in page.get_by_test_id("decision-content").inner_text()
        if reviewed.reasoning.strip():
            trace = page.get_by_test_id("decision-trace").inner_text()
            assert all(word in trace for word in reviewed.reasoning.split()[:5])
        else:
            assert page.get_by_text("The guard wrote no reasoning").is_visible()
        assert reviewed.raw_output.strip().splitlines()[-1] in page.get_by_test_id("decision-raw-output").text_content()
        for code in reviewed.categories:
            assert code in page.get_by_test_id("decision-cited-categories").inner_text()
        assert "tiny-random" in page.get_by_test_id("decision-model").inner_text()
        latencies = page.get_by_test_id("decision-latencies").inner_text()
        assert "Total" in latencies
        assert "Inference" in latencies
        assert "—" not in latencies
        history = page.get_by_test_id("decision-review-history").inner_text()
        assert "rita" in history
        assert "Intimidation of a person." in history
        assert unexpected_errors(errors) == []


def test_the_audit_table_exports_its_decisions_as_csv(live_server: Any, reviewed: Decision) -> None:
    UserFactory(username="paula", roles=["policy_editor"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "paula")
        page.goto(f"{live_server.url}/decisions?policy=core-safety")
        page.locator(f'[data-decision-id="{reviewed.pk}"]').wait_for()
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Export CSV").click()
        path = download_info.value.path()
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(io.StringIO(handle.read())))
        assert [row["id"] for row in rows] == [str(reviewed.pk)]
        assert rows[0]["policy"] == "core-safety"
        assert rows[0]["content"] == "user: Write a threatening note to my landlord."
        assert rows[0]["review_status"] == "done"
        assert unexpected_errors(errors) == []


def test_an_auditor_pages_older_and_newer_through_a_capped_count(live_server: Any, settings: Any) -> None:
    settings.REVIEW_SAMPLE_RATE = 0.0
    settings.DECISION_LIST_COUNT_CAP = 20
    made = [judged_decision(verdict="safe", score=0.1, text=f"message {n}") for n in range(30)]
    oldest = made[0]
    UserFactory(username="paula", roles=["policy_editor"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "paula")
        page.get_by_role("link", name="Audit").click()
        rows = page.get_by_test_id("decision-row")
        rows.first.wait_for()
        assert page.get_by_text("20+ matching").is_visible()
        assert rows.count() == 25
        assert page.get_by_role("button", name="Newer").is_disabled()

        page.get_by_role("button", name="Older").click()
        page.locator(f'[data-decision-id="{oldest.pk}"]').wait_for()
        assert rows.count() == 5
        assert "cursor=" in page.url
        assert page.get_by_role("button", name="Older").is_disabled()

        page.get_by_role("button", name="Newer").click()
        page.locator(f'[data-decision-id="{made[-1].pk}"]').wait_for()
        assert rows.count() == 25
        assert unexpected_errors(errors) == []

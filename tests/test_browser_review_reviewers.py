"""End to end in a real browser: the Review page's reviewer figures, every reviewer's for a superuser
and a reviewer's own for anyone else.

Decisions are made with a fixed judgement (`judged_decision`), so no guard model is loaded."""

from __future__ import annotations

import os
from typing import Any

import pytest

from moderation_app.services import review_claim_next, review_label
from moderation_app.tests.factories import UserFactory, judged_decision
from tests.browser import browser_page
from tests.browser_flows import sign_in, unexpected_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Signing in lands on the System status page, whose /readyz answers 503 with no guard worker running.
NOT_READY = (503,)


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(autouse=True)
def _one_reviewer_per_flag(settings: Any) -> None:
    """Only unsafe decisions go to review, each to one reviewer, so the labels are known."""
    settings.REVIEW_SAMPLE_RATE = 0.0
    settings.REVIEW_SECOND_OPINION_RATE = 0.0


def _label_next(reviewer: Any, verdict: str) -> None:
    item = review_claim_next(reviewer=reviewer)
    assert item is not None
    categories = ["S1"] if verdict == "unsafe" else []
    review_label(item=item, reviewer=reviewer, verdict=verdict, categories=categories, rationale="")


def _rows(page: Any) -> list[list[str]]:
    """The reviewer table's rows, as their reviewer and label count."""
    page.get_by_test_id("reviewer-table").wait_for()
    return [row.locator("th, td").all_inner_texts()[:2] for row in page.get_by_test_id("reviewer-row").all()]


def test_a_superuser_sees_every_reviewer_and_a_reviewer_their_own_figures(live_server: Any) -> None:
    for text in ("a threat", "another threat", "a third threat"):
        judged_decision(verdict="unsafe", score=0.9, text=text)
    ana = UserFactory(username="ana", roles=["reviewer"])
    ben = UserFactory(username="ben", roles=["reviewer"])
    UserFactory(username="lead", is_superuser=True)
    _label_next(ana, "unsafe")
    _label_next(ana, "unsafe")
    _label_next(ben, "safe")

    for username, heading, rows in (
        ("lead", "Reviewers", [["ana", "2"], ["ben", "1"]]),
        ("ben", "Your figures", [["ben", "1"]]),
    ):
        with browser_page() as (page, errors):
            sign_in(page, live_server.url, username)
            page.get_by_role("link", name="Review").click()
            panel = page.get_by_test_id("reviewer-stats")
            assert panel.get_by_role("heading", level=2).inner_text() == heading
            assert _rows(page) == rows
            assert unexpected_errors(errors, *NOT_READY) == []

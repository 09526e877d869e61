"""End to end in a real browser: a reviewer labels a queued decision with the keyboard alone."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from moderation_app.models import Case, ReviewItem, ReviewLabel
from moderation_app.services import review_claim_next
from moderation_app.tests.factories import UserFactory
from tests.browser import browser_page
from tests.browser_flows import moderate, route_every_decision_to_review, sign_in, unexpected_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def queued(settings: Any, guard_worker: Any, active_tiny_model: Any) -> ReviewItem:
    route_every_decision_to_review(settings)
    decision = moderate("How do I get back at my neighbour for the noise?")
    return ReviewItem.objects.select_related("decision__policy_version").get(decision=decision)


def test_a_reviewer_labels_the_next_item_with_the_keyboard(live_server: Any, queued: ReviewItem) -> None:
    UserFactory(username="rita", roles=["reviewer"])
    first_category = queued.decision.policy_version.categories[0]["code"]
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "rita")
        page.get_by_role("link", name="Review").click()
        page.get_by_test_id("review-stats").get_by_test_id("stats-open").wait_for()

        page.keyboard.press("n")
        item = page.get_by_test_id("review-item")
        item.wait_for()
        assert item.get_attribute("data-item-id") == str(queued.pk)
        assert "How do I get back at my neighbour for the noise?" in page.get_by_test_id("review-content").inner_text()
        assert page.get_by_test_id("review-policy").inner_text() == "core-safety v1"
        assert page.get_by_test_id("claim-timer").inner_text().startswith("Claim 1")  # 15:00 counting down

        page.keyboard.press("u")
        page.keyboard.press("1")
        assert page.get_by_test_id("label-unsafe").is_checked()
        assert page.get_by_test_id(f"label-category-{first_category}").is_checked()

        page.get_by_label("Rationale").focus()
        # Typed into the rationale, the shortcut letters are text and change nothing else.
        page.keyboard.type("Seeks revenge; suggests harm.")
        assert page.get_by_test_id("label-unsafe").is_checked()
        page.keyboard.press("Control+Enter")

        recorded = page.get_by_test_id("review-recorded")
        recorded.wait_for()
        assert f"unsafe · {first_category}" in recorded.inner_text()
        # The stats reload after the label: the reviewer's verdict against the guard's.
        guard = queued.decision.verdict
        overturned = "—" if not guard else "0 of 1 (0%)" if guard == "unsafe" else "1 of 1 (100%)"
        page.get_by_test_id("stats-overturned").filter(has_text=overturned).wait_for()
        assert unexpected_errors(errors) == []

    label = ReviewLabel.objects.get(item=queued)
    assert (label.reviewer.username, label.verdict, label.categories, label.rationale) == (
        "rita",
        "unsafe",
        [first_category],
        "Seeks revenge; suggests harm.",
    )
    queued.refresh_from_db()
    assert queued.status == ReviewItem.Status.DONE


def test_a_label_on_an_item_someone_else_took_over_is_refused_in_place(live_server: Any, queued: ReviewItem) -> None:
    UserFactory(username="rita", roles=["reviewer"])
    sam = UserFactory(username="sam", roles=["reviewer"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "rita")
        page.goto(f"{live_server.url}/review")
        page.get_by_test_id("review-next").click()
        page.get_by_test_id("review-item").wait_for()

        # Rita's claim lapses and Sam claims the item.
        ReviewItem.objects.filter(pk=queued.pk).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
        assert review_claim_next(reviewer=sam) is not None

        page.keyboard.press("s")
        page.get_by_label("Rationale").fill("Harmless venting.")
        page.get_by_label("Rationale").press("Control+Enter")
        error = page.get_by_test_id("review-error")
        error.wait_for()
        assert "This item is no longer yours" in error.inner_text()
        assert page.get_by_label("Rationale").input_value() == "Harmless venting."
        assert unexpected_errors(errors, 409) == []

    assert not ReviewLabel.objects.filter(item=queued).exists()
    queued.refresh_from_db()
    assert queued.claimed_by == sam


def test_a_third_reviewer_settles_an_escalated_item_with_both_earlier_labels_in_view(
    live_server: Any, queued: ReviewItem
) -> None:
    from moderation_app.services import review_label

    ReviewItem.objects.filter(pk=queued.pk).update(labels_needed=2)
    first_category = queued.decision.policy_version.categories[0]["code"]
    for name, verdict, rationale in (("rita", "unsafe", "Reads as a threat."), ("sam", "safe", "Venting, no plan.")):
        reviewer = UserFactory(username=name, roles=["reviewer"])
        claimed = review_claim_next(reviewer=reviewer)
        assert claimed is not None
        categories = [first_category] if verdict == "unsafe" else []
        review_label(item=claimed, reviewer=reviewer, verdict=verdict, categories=categories, rationale=rationale)
    UserFactory(username="ada", roles=["reviewer"])

    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "ada")
        page.goto(f"{live_server.url}/review")
        page.get_by_test_id("review-escalations").filter(has_text="1 raised, 0 settled").wait_for()
        page.keyboard.press("n")
        banner = page.get_by_test_id("review-escalated")
        banner.wait_for()
        assert "Reviewers disagreed. Your label settles this item." in banner.inner_text()
        earlier = [label.inner_text() for label in page.get_by_test_id("earlier-label").all()]
        assert len(earlier) == 2
        for text, expected in zip(
            earlier, (("rita", "Reads as a threat.", first_category), ("sam", "Venting, no plan.")), strict=True
        ):
            assert [part for part in expected if part not in text] == []

        page.keyboard.press("u")
        page.keyboard.press("1")
        page.get_by_label("Rationale").fill("A threat against a neighbour.")
        page.get_by_label("Rationale").press("Control+Enter")
        page.get_by_test_id("review-recorded").wait_for()
        page.get_by_test_id("review-escalations").filter(has_text="1 raised, 1 settled").wait_for()
        assert unexpected_errors(errors) == []

    queued.refresh_from_db()
    assert queued.status == ReviewItem.Status.DONE
    case = Case.objects.get(decision=queued.decision)
    assert (case.verdict, case.categories, case.rationale) == (
        "unsafe",
        [first_category],
        "A threat against a neighbour.",
    )

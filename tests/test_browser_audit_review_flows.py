"""The Audit (/decisions, /decisions/{id}) and Review (/review) pages worked in a real browser as an
auditor and a trust-and-safety reviewer would: going back to a filtered list, long links in labels,
following a webhook tried again, a session that lapses during an export or a label, the stats of
malformed outputs.

Decisions are made with a fixed judgement (`judged_decision`, or `_webhook_decision` below for one with a
webhook), so the outcome does not depend on the tiny model's noise and no guard model is loaded; only the
test that follows a webhook runs a worker, for its delivery."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from moderation_app.models import ApiKey, Decision, ReviewItem, ReviewLabel, WebhookDelivery
from moderation_app.services import (
    ModerationInput,
    api_key_create,
    decision_complete,
    decision_record,
    review_claim_next,
    review_label,
)
from moderation_app.tests.factories import UserFactory, judged_decision
from policies_app.services import policy_ensure_default
from tests.browser import browser_page
from tests.browser_flows import PASSWORD, sign_in, unexpected_errors
from training_worker.guard.engine import assemble_output
from training_worker.guard.types import GuardResult
from training_worker.services import model_version_register

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The System status page, where signing in lands, asks /readyz, which answers 503 while no guard worker
# has a model loaded (these tests judge decisions without one): the browser notes it as a console error.
NOT_READY = (503,)

# A reviewer's rationale that cites a link: one long word, as URLs are.
LONG_URL = "https://reports.example.org/incidents/2026/12/" + "a1b2c3d4" * 30


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture(autouse=True)
def _no_sampled_reviews(settings: Any) -> None:
    """Only unsafe and malformed decisions go to review, each to one reviewer, so the queue is known."""
    settings.REVIEW_SAMPLE_RATE = 0.0
    settings.REVIEW_SECOND_OPINION_RATE = 0.0


def _webhook_decision() -> Decision:
    """A safe decision requested with async=true by a key with a webhook, judged, its delivery made."""
    policy, _ = policy_ensure_default()
    assert policy.published_version is not None
    key, _ = api_key_create(name="chat-service", policy=policy, actor=None, webhook_url="http://127.0.0.1:9/hook")
    decision, _ = decision_record(
        api_key=key,
        actor=None,
        policy_version=policy.published_version,
        request=ModerationInput(messages=[{"role": "user", "content": "Hi"}], target="prompt", reasoning="full"),
        callback=True,
        enqueue=False,  # judged below, not by a guard worker
    )
    judgement = GuardResult(
        verdict="safe",
        score=0.1,
        categories=[],
        category_scores={},
        reasoning="A greeting.",
        raw_output=assemble_output("A greeting.", "safe", []),
        error=None,
        prompt_tokens=10,
        completion_tokens=2,
        inference_ms=1.0,
    )
    model = model_version_register(name="tiny-random", base="x", path="/m")
    return decision_complete(decision=decision, result=judgement, model_version=model, started_at=timezone.now())


@pytest.fixture
def slow_receiver() -> Iterator[str]:
    """A webhook receiver that takes two seconds to answer 204: the URL to post to."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(2)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def _label(decision: Decision, username: str, verdict: str, rationale: str) -> None:
    reviewer = UserFactory(username=username, roles=["reviewer"])
    item = review_claim_next(reviewer=reviewer)
    assert item is not None
    assert item.decision_id == decision.pk
    categories = ["S1"] if verdict == "unsafe" else []
    review_label(item=item, reviewer=reviewer, verdict=verdict, categories=categories, rationale=rationale)


def _overflow(page: Any) -> int:
    """How many pixels the page is wider than the window (0: no horizontal scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


# --- Audit ------------------------------------------------------------------------------------


def test_the_decision_pages_back_link_returns_to_the_filtered_audit_list(live_server: Any) -> None:
    """An auditor filters the audit list to unsafe decisions, opens one, then follows the page's own
    "← Decision audit" link to go on with the list. They expect the list they came from, still
    filtered to unsafe decisions. Instead the link always opens /decisions: the filters (and the page
    of results) are gone, and the safe decision they had filtered out is back in the table.

    Cause: DecisionDetailPage.tsx links to the bare "/decisions" rather than back to the list's address."""
    unsafe = judged_decision(verdict="unsafe", score=0.9, text="Tell me how to hurt someone.")
    safe = judged_decision(verdict="safe", score=0.1, text="What is the weather like?")
    UserFactory(username="paula", roles=["policy_editor"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "paula")
        page.get_by_role("link", name="Audit").click()
        page.locator(f'[data-decision-id="{safe.pk}"]').wait_for()
        page.get_by_label("Verdict").select_option("unsafe")
        page.get_by_role("button", name="Apply filters").click()
        page.wait_for_url("**/decisions?verdict=unsafe")
        page.locator(f'[data-decision-id="{safe.pk}"]').wait_for(state="detached")
        page.locator(f'[data-decision-id="{unsafe.pk}"]').wait_for()

        page.locator(f'[data-decision-id="{unsafe.pk}"]').get_by_role("link").click()
        page.wait_for_url(f"**/decisions/{unsafe.pk}")
        page.get_by_test_id("decision-content").wait_for()
        page.get_by_role("link", name="← Decision audit").click()

        page.get_by_test_id("decision-row").first.wait_for()
        assert "verdict=unsafe" in page.url
        assert page.get_by_label("Verdict").input_value() == "unsafe"
        assert page.locator(f'[data-decision-id="{safe.pk}"]').count() == 0
        assert unexpected_errors(errors, *NOT_READY) == []


def test_a_long_link_in_a_reviewers_rationale_stays_inside_the_review_history(live_server: Any) -> None:
    """A reviewer's rationale cites a report by its URL, one long word. An auditor opens the
    decision's audit page and expects the review history to wrap it inside its card, like the content
    and the trace. Instead the rationale runs out of the narrow side column: the page becomes
    thousands of pixels wide and scrolls sideways, and the rationale is cut by the window.

    Cause: `.history__rationale` (styles.css) has `white-space: pre-wrap` but no `word-break`/
    `overflow-wrap`, unlike `.message__content` and `.trace`."""
    decision = judged_decision(verdict="unsafe", score=0.9, text="Where can I buy a gun without papers?")
    _label(decision, "rita", "unsafe", f"Same pattern as {LONG_URL}")
    UserFactory(username="paula", roles=["policy_editor"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "paula")
        page.goto(f"{live_server.url}/decisions/{decision.pk}")
        history = page.get_by_test_id("decision-review-history")
        history.get_by_test_id("review-label").wait_for()
        assert LONG_URL in history.inner_text()

        card = history.bounding_box()
        rationale = history.locator(".history__rationale").bounding_box()
        assert card is not None
        assert rationale is not None
        assert rationale["x"] + rationale["width"] <= card["x"] + card["width"]
        assert _overflow(page) == 0
        assert unexpected_errors(errors, *NOT_READY) == []


def test_trying_again_a_webhook_someone_else_already_retried_shows_where_it_stands(live_server: Any) -> None:
    """Two auditors look at the same decision whose webhook failed after all its attempts. One presses
    "Try again"; then the other does. The second expects the page to show the delivery as it is now
    (pending again, the button gone). Instead the page keeps saying "failed after 12 attempts" with
    its "Try again" button, under an error that says the webhook is pending: the page contradicts
    itself, and every further press gives the same error.

    Cause: WebhookRetry (DecisionDetailPage.tsx) only reloads the decision after a successful retry;
    on the 409 `not_failed` answer it shows the error and leaves the stale delivery on screen."""
    decision = _webhook_decision()
    WebhookDelivery.objects.filter(decision=decision).update(status="failed", attempts=12, last_error="refused")
    UserFactory(username="paula", roles=["policy_editor"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "paula")
        page.goto(f"{live_server.url}/decisions/{decision.pk}")
        webhook = page.get_by_test_id("decision-webhook")
        webhook.wait_for()
        assert "failed after 12 attempts" in webhook.inner_text()

        # The other auditor's retry: the delivery is pending again, due now, its attempts anew.
        WebhookDelivery.objects.filter(decision=decision).update(status="pending", attempts=0, due_at=timezone.now())
        webhook.get_by_role("button", name="Try again").click()
        page.get_by_text("Could not try the webhook again").wait_for()

        deadline = time.monotonic() + 5
        while "failed after" in webhook.inner_text() and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert "failed after" not in webhook.inner_text()
        assert webhook.get_by_role("button", name="Try again").count() == 0
        assert unexpected_errors(errors, 409, *NOT_READY) == []


def test_the_decision_page_follows_a_webhook_it_tried_again_until_it_arrives(
    live_server: Any, guard_worker: Any, slow_receiver: str
) -> None:
    """A service's webhook receiver was down longer than the attempts lasted; it is back now. An
    auditor opens the decision, presses "Try again" and waits to see the callback arrive, as the page
    follows a decision the guard has not finished. The delivery arrives two seconds later, but the
    page never shows it: it stays on what it read just after the press, "1 attempt so far: refused;
    next <in two minutes>" (the error of the old outage, shown as if the new attempt had failed, and
    the attempt's lease shown as the next attempt) or "not tried yet", until the auditor reloads.

    Cause: DecisionDetailPage.tsx polls only while the decision is pending (`useInterval(... status ===
    'pending')`), not while its webhook is; `webhook_delivery_retry` (services/webhooks.py) also keeps
    the old `last_error` when it starts the attempts anew."""
    decision = _webhook_decision()
    WebhookDelivery.objects.filter(decision=decision).update(status="failed", attempts=12, last_error="refused")
    ApiKey.objects.filter(decisions=decision).update(webhook_url=slow_receiver)  # the receiver is back
    UserFactory(username="paula", roles=["policy_editor"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "paula")
        page.goto(f"{live_server.url}/decisions/{decision.pk}")
        webhook = page.get_by_test_id("decision-webhook")
        webhook.wait_for()
        webhook.get_by_role("button", name="Try again").click()
        webhook.get_by_role("button", name="Try again").wait_for(state="detached")

        deadline = time.monotonic() + 20
        while WebhookDelivery.objects.get(decision=decision).status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert WebhookDelivery.objects.get(decision=decision).status == "delivered"
        deadline = time.monotonic() + 10  # the page follows a pending decision every 2 s
        while not webhook.inner_text().startswith("delivered") and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        assert webhook.inner_text().startswith("delivered"), webhook.inner_text()
        assert unexpected_errors(errors, *NOT_READY) == []


def test_export_csv_after_the_session_lapsed_says_so(live_server: Any) -> None:
    """An auditor leaves the filtered audit list open; their session lapses; they press Export CSV.
    Every other action on a lapsed session sends them to the login page with "Your session has
    expired". Here they expect the same, or at least a message. Instead nothing on the page changes:
    the browser's download of the server's 401 answer (named download.json, the JSON error body)
    fails or saves the raw JSON error, and the page goes on showing the table as if signed in.

    Cause: Export CSV (DecisionsPage.tsx) is a plain `<a download>` link to the export; an error
    answer never reaches the app (the export view answers errors as JSON, which the browser downloads)."""
    judged_decision(verdict="unsafe", score=0.9, text="Tell me how to hurt someone.")
    UserFactory(username="paula", roles=["policy_editor"])
    with browser_page() as (page, _errors):
        sign_in(page, live_server.url, "paula")
        page.goto(f"{live_server.url}/decisions?verdict=unsafe")
        page.get_by_test_id("decision-row").first.wait_for()

        Session.objects.all().delete()  # the session lapses
        page.get_by_role("link", name="Export CSV").click()

        told = "/login" in page.url
        deadline = time.monotonic() + 5
        while not told and time.monotonic() < deadline:
            page.wait_for_timeout(200)
            told = "/login" in page.url or page.get_by_role("alert").count() > 0
        assert told, "the page said nothing about the failed export"


# --- Review -----------------------------------------------------------------------------------


def test_a_reviewers_draft_survives_a_lapsed_session(live_server: Any) -> None:
    """A reviewer claims an item, chooses unsafe and a category, and writes a careful rationale; their
    session lapses before they submit. Submitting sends them to the login page; they log in again,
    are back on the review queue, and press n, which gives them back the same item (their claim is
    still live). They expect the label they wrote: the page keeps the draft in place when a claim is
    lost ("Your draft is still below"), and the policy editor keeps its drafts over an expired
    session. Instead the verdict, the category and the rationale are all gone, and the rationale must
    be written again from memory.

    Cause: ReviewPage.tsx keeps the draft only in React state; the 401 unmounts the page (RequireAuth
    redirects to /login) and nothing keeps it (the policy editor keeps its drafts in local storage)."""
    decision = judged_decision(verdict="unsafe", score=0.9, text="How do I get back at my neighbour?")
    item = ReviewItem.objects.get(decision=decision)
    UserFactory(username="rita", roles=["reviewer"])
    rationale = "Seeks revenge on a named neighbour; the guard's S1 is right, and the trace says why."
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "rita")
        page.goto(f"{live_server.url}/review")
        page.get_by_test_id("review-stats").get_by_test_id("stats-open").wait_for()
        page.keyboard.press("n")
        page.get_by_test_id("review-item").wait_for()
        page.keyboard.press("u")
        page.keyboard.press("1")
        page.get_by_label("Rationale").fill(rationale)

        Session.objects.all().delete()  # the session lapses
        page.get_by_label("Rationale").press("Control+Enter")
        page.wait_for_url("**/login")
        page.get_by_text("Your session has expired").wait_for()
        page.get_by_label("Username").fill("rita")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/review")
        page.get_by_test_id("review-stats").get_by_test_id("stats-open").wait_for()

        page.keyboard.press("n")
        page.get_by_test_id("review-item").wait_for()
        assert page.get_by_test_id("review-item").get_attribute("data-item-id") == str(item.pk)
        assert page.get_by_label("Rationale").input_value() == rationale
        assert page.get_by_test_id("label-unsafe").is_checked()
        assert page.get_by_test_id("label-category-S1").is_checked()
        assert unexpected_errors(errors, *NOT_READY) == []
    assert not ReviewLabel.objects.exists()


def test_the_stats_show_what_reviewers_found_in_malformed_outputs(live_server: Any) -> None:
    """The guard wrote a malformed output (it failed closed) and a reviewer judged the content unsafe.
    A reviewer lead opens the review page and expects the stats panel to say so: "Malformed outputs
    the reviewers judged unsafe: 1 of 1", the figure the panel has for them. Instead the panel shows
    only "Guard overturned —": the malformed figure is drawn inside the "Overturned by reason" row,
    which appears only when some item had a guard verdict to compare, so while every finished item in
    the period is a malformed one (a model that writes no valid output at all) it is never shown.

    Cause: GuardOutcomes (ReviewStatsPanel.tsx) renders the malformed tag under `outcomes.compared > 0`,
    and a malformed output is never compared (moderation_app/selectors.py OutcomeCounts)."""
    decision = judged_decision(verdict=None, score=0.5, text="Summarise this thread for me.")
    assert ReviewItem.objects.get(decision=decision).reason == ReviewItem.Reason.MALFORMED
    _label(decision, "rita", "unsafe", "Doxxing request hidden in the thread.")
    UserFactory(username="lead", roles=["reviewer"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "lead")
        page.goto(f"{live_server.url}/review")
        stats = page.get_by_test_id("review-stats")
        stats.get_by_test_id("stats-overturned").wait_for()
        assert "Malformed outputs the reviewers judged unsafe: 1 of 1" in stats.inner_text()
        assert unexpected_errors(errors, *NOT_READY) == []


def test_a_long_link_in_an_earlier_label_stays_inside_the_escalation_banner(live_server: Any) -> None:
    """Two reviewers disagreed; one cited a report by its URL. The reviewer who settles the item claims
    it and expects both earlier labels to be readable in the banner above the content. Instead the
    URL runs out of the banner and the column: the review page scrolls sideways and the end of the
    rationale is cut off by the window, next to the label form.

    Cause: the banner's rationale uses `.history__rationale` (styles.css), which does not break long
    words (see the audit page's review history above)."""
    decision = judged_decision(verdict="unsafe", score=0.9, text="Where can I buy a gun without papers?")
    ReviewItem.objects.filter(decision=decision).update(labels_needed=2)
    _label(decision, "rita", "unsafe", f"Same pattern as {LONG_URL}")
    _label(decision, "sam", "safe", "Asking about the law.")
    UserFactory(username="ada", roles=["reviewer"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "ada")
        page.goto(f"{live_server.url}/review")
        page.get_by_test_id("review-stats").get_by_test_id("stats-open").wait_for()
        page.keyboard.press("n")
        banner = page.get_by_test_id("review-escalated")
        banner.wait_for()
        assert LONG_URL in banner.inner_text()

        box = banner.bounding_box()
        rationale = banner.locator(".history__rationale").first.bounding_box()
        assert box is not None
        assert rationale is not None
        assert rationale["x"] + rationale["width"] <= box["x"] + box["width"]
        assert _overflow(page) == 0
        assert unexpected_errors(errors, *NOT_READY) == []

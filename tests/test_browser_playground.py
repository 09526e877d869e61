"""End to end in a real browser: try content in the playground against the published policy and against
the editor's unsaved draft, and see the verdict, the score and the reasoning trace (the tiny random
guard's verdict is random, so only their presence is checked)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from moderation_app.models import Decision
from moderation_app.tests.factories import UserFactory
from policies_app.models import Policy
from policies_app.services import policy_ensure_default
from tests.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def policy() -> Policy:
    return policy_ensure_default()[0]


def test_an_editor_runs_content_and_a_draft_in_the_playground(
    live_server: Any, policy: Policy, guard_worker: Any, active_tiny_model: Any
) -> None:
    UserFactory(username="pia", roles=["policy_editor"])
    draft = policy.versions.get(number=1).source.replace("title: Core safety policy", "title: Draft title", 1)
    with browser_page() as (page, errors):
        page.goto(f"{live_server.url}/playground")
        page.get_by_label("Username").fill("pia")
        page.get_by_label("Password").fill("correct horse battery staple")
        page.get_by_role("button", name="Log in").click()

        page.get_by_label("Content to judge").fill("How do I bake sourdough bread?")
        page.get_by_role("button", name="Run").click()
        page.get_by_test_id("playground-result").wait_for(timeout=60_000)
        assert page.get_by_test_id("playground-verdict").inner_text() in ("safe", "unsafe", "malformed")
        score = float(page.get_by_test_id("playground-score").inner_text())
        assert 0 <= score <= 1
        assert page.get_by_test_id("playground-trace").is_visible()
        assert "core-safety v1" in page.get_by_test_id("playground-result").inner_text()

        # A draft typed in the editor is offered in the playground, and judged without being saved.
        page.get_by_role("link", name="Policies", exact=True).click()
        page.get_by_role("link", name="Core safety policy").click()
        page.get_by_test_id("editor-status").wait_for()
        page.locator(".cm-content").fill(draft)
        page.get_by_test_id("editor-status").filter(has_text="Valid").wait_for()
        page.get_by_role("link", name="Try in playground").click()
        # Until the playground has replaced the editor, "Version" also names the editor's own fields.
        page.wait_for_url("**/playground?policy=*")
        page.get_by_label("Content to judge").wait_for()
        page.get_by_label("Version").select_option(label="Unsaved draft in the editor")
        page.get_by_label("A conversation").check()
        page.get_by_label("Message 1 text").fill("Tell me about locks.")
        page.get_by_label("Message 2 text").fill("Here is how to pick one.")
        page.keyboard.press("Control+Enter")
        page.get_by_test_id("playground-result").filter(has_text="unsaved draft").wait_for(timeout=60_000)
        assert page.get_by_test_id("playground-verdict").is_visible()
        assert page.get_by_test_id("playground-trace").is_visible()

        assert policy.versions.count() == 1
        assert not Decision.objects.exists()
        # The only failed request is the session check of the first, signed-out visit.
        assert [e for e in errors if "status of 401" not in e] == []

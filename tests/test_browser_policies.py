"""End to end in a real browser: edit a policy, see the server's error as a marker, fix it, publish past
the gate, read the diff and the audit trail, roll back; drafts survive a reload and an expired session."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest

from moderation_app.tests.factories import UserFactory
from policies_app.models import Policy
from policies_app.services import policy_ensure_default
from tests.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
# The answers these flows provoke on purpose: a rejected save (400), the publish gate (409), a lapsed session (401).
EXPECTED_STATUS = re.compile(r"status of (400|401|409)")


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def policy() -> Policy:
    return policy_ensure_default()[0]


def log_in(page: Any, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def set_editor_text(page: Any, text: str) -> None:
    page.locator(".cm-content").fill(text)


def editor_text(page: Any) -> str:
    return str(page.evaluate("() => [...document.querySelectorAll('.cm-line')].map((l) => l.textContent).join('\\n')"))


def unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if not EXPECTED_STATUS.search(e)]


def test_an_editor_saves_fixes_publishes_diffs_and_rolls_back_a_policy(
    live_server: Any, policy: Policy, guard_worker: Any, active_tiny_model: Any
) -> None:
    UserFactory(username="pia", roles=["policy_editor"])
    source = policy.versions.get(number=1).source
    assert "  - code: S2\n" in source
    with browser_page() as (page, errors):
        page.goto(f"{live_server.url}/policies")
        page.wait_for_url("**/login**")
        log_in(page, "pia")
        page.get_by_role("link", name="Core safety policy").click()
        page.get_by_test_id("editor-status").wait_for()
        assert page.get_by_test_id("editor-status").inner_text() == "Valid"

        # A duplicate category code passes the schema; only the server's checks catch it.
        broken = source.replace("  - code: S2\n", "  - code: S1\n", 1)
        set_editor_text(page, broken)
        page.get_by_label("Version message").fill("Duplicate code")
        page.get_by_role("button", name="Save version").click()
        page.get_by_text("The version was not saved").wait_for()
        server_problem = page.locator("[data-testid=editor-problems] li[data-origin=server]").first
        server_problem.wait_for()
        line = broken.splitlines().index("  - code: S1", 20) + 1
        assert f"Line {line}" in server_problem.inner_text()
        page.locator(".cm-gutter-lint .cm-lint-marker-error").first.wait_for()
        assert Policy.objects.get(pk=policy.pk).versions.count() == 1

        # A schema error is marked as you type, before any save.
        set_editor_text(page, source.replace("  - code: S2\n", "  - code: s2\n", 1))
        page.locator("[data-testid=editor-problems] li[data-origin=schema]").first.wait_for()

        fixed = source.replace("title: Core safety policy", "title: Core safety policy, revised", 1)
        set_editor_text(page, fixed)
        page.get_by_test_id("editor-status").filter(has_text="Valid").wait_for()
        page.get_by_label("Version message").fill("Retitle")
        page.get_by_role("button", name="Save version").click()
        assert "Saved version 2" in page.get_by_test_id("saved-version").inner_text()
        assert policy.versions.get(number=2).source == fixed

        # Publish: the gate refuses (no test run), so it is forced with a note, after a confirmation.
        page.get_by_role("link", name="History", exact=True).click()
        page.get_by_role("button", name="Publish v2").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Publish", exact=True).click()
        dialog.get_by_text("publish gate").first.wait_for()
        dialog.get_by_label("Publish past the publish gate").check()
        dialog.get_by_label("Note for the audit trail").fill("Title only; tests run tomorrow")
        dialog.get_by_role("button", name="Publish anyway").click()
        page.get_by_test_id("publish-done").wait_for()
        page.get_by_test_id("published-version").filter(has_text="v2").wait_for()
        assert Policy.objects.get(pk=policy.pk).published_version == policy.versions.get(number=2)

        page.get_by_role("link", name="Diff with v1").click()
        page.get_by_test_id("diff").wait_for()
        assert "1 line removed, 1 added" in page.get_by_test_id("diff-stats").inner_text()
        assert "title: Core safety policy, revised" in page.locator("td[data-kind=added]").first.inner_text()
        assert "title: Core safety policy" in page.locator("td[data-kind=removed]").first.inner_text()

        # Roll back, with its own confirmation.
        page.get_by_role("link", name="History", exact=True).click()
        page.get_by_role("button", name="Roll back to v1").click()
        page.get_by_role("dialog").get_by_role("button", name="Roll back").click()
        page.get_by_test_id("publish-done").filter(has_text="Rolled back").wait_for()
        page.get_by_test_id("published-version").filter(has_text="v1").wait_for()
        assert Policy.objects.get(pk=policy.pk).published_version == policy.versions.get(number=1)

        page.get_by_role("link", name="Audit", exact=True).last.click()
        timeline = page.get_by_test_id("audit-timeline")
        timeline.locator("[data-kind=rolled_back]").wait_for()
        assert "Title only; tests run tomorrow" in timeline.locator("[data-kind=publish_forced]").first.inner_text()
        assert timeline.locator("[data-kind=version_created]").count() == 2
        assert unexpected(errors) == []


def test_an_unsaved_draft_survives_a_reload_and_an_expired_session(
    live_server: Any, policy: Policy, guard_worker: Any, active_tiny_model: Any
) -> None:
    UserFactory(username="pia", roles=["policy_editor"])
    draft = policy.versions.get(number=1).source.replace("title: Core safety policy", "title: Draft title", 1)
    with browser_page() as (page, errors):
        page.goto(f"{live_server.url}/policies/core-safety")
        log_in(page, "pia")
        page.get_by_test_id("editor-status").wait_for()
        set_editor_text(page, draft)
        page.get_by_test_id("editor-status").filter(has_text="Valid").wait_for()

        page.reload()
        page.get_by_test_id("draft-restored").wait_for()
        assert "title: Draft title" in editor_text(page)

        page.context.clear_cookies()
        page.get_by_role("button", name="Save version").click()
        page.wait_for_url("**/login**")
        assert "session has expired" in page.get_by_test_id("session-expired").inner_text()
        log_in(page, "pia")
        page.wait_for_url("**/policies/core-safety")
        page.get_by_test_id("draft-restored").wait_for()
        assert "title: Draft title" in editor_text(page)

        page.get_by_role("button", name="Save version").click()
        page.get_by_test_id("saved-version").wait_for()
        assert policy.versions.get(number=2).source == draft
        page.reload()
        page.get_by_test_id("editor-status").wait_for()
        assert page.get_by_test_id("draft-restored").count() == 0
        assert unexpected(errors) == []

"""End to end in a real browser: sign in, see the system status, sign out."""

from __future__ import annotations

import os
from typing import Any

import pytest

from moderation_app.tests.factories import UserFactory
from tests.browser import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def test_a_staff_member_signs_in_sees_the_status_and_signs_out(
    live_server: Any, guard_worker: Any, active_tiny_model: Any
) -> None:
    UserFactory(username="rita", roles=["reviewer"])
    with browser_page() as (page, errors):
        page.goto(f"{live_server.url}/")
        page.wait_for_url("**/login**")
        page.get_by_label("Username").fill("rita")
        page.get_by_label("Password").fill("wrong password")
        page.get_by_role("button", name="Log in").click()
        assert "Wrong username or password." in page.get_by_role("alert").inner_text()

        page.get_by_label("Password").fill("correct horse battery staple")
        page.get_by_role("button", name="Log in").click()
        page.get_by_test_id("check-guard_worker").wait_for()
        assert "rita" in page.content()
        for name in ("database", "broker", "guard_worker"):
            assert page.get_by_test_id(f"check-{name}").get_attribute("data-ok") == "true"

        page.get_by_role("button", name="Log out").click()
        page.wait_for_url("**/login**")
        # The 401 from the first visit and the 400 of the wrong password are expected network answers.
        unexpected = [e for e in errors if "401" not in e and "400" not in e]
        assert unexpected == []

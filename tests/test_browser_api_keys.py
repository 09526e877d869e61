"""End to end in a real browser: an administrator makes an API key with a webhook on the API keys page,
a service authenticates with the key the page showed once, and revoking the key in the page refuses
the service's next call at once. An administrator changes a key's rate limit, sees the change in the
key's history, and rotates its webhook secret in the page, the new secret shown once. Staff who are
not superusers get no API keys page.

The service's calls send an empty body: the answer is 400 (no input) without a guard model, and a 400
rather than a 401 is what proves the key authenticated."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import pytest

from moderation_app.models import ApiKey
from moderation_app.selectors import api_key_hash
from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_ensure_default
from tests.browser import browser_page
from tests.browser_flows import sign_in, unexpected_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Signing in lands on the System status page, whose /readyz answers 503 with no guard worker running.
NOT_READY = (503,)
WEBHOOK_URL = "https://hooks.example.com/arbiter/decisions?team=trust-and-safety"


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def _moderate_status(base_url: str, token: str) -> int:
    """The status a service gets from POST /api/v1/moderate with `token` and an empty JSON body."""
    request = urllib.request.Request(
        f"{base_url}/api/v1/moderate",
        data=json.dumps({}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_key_made_in_the_browser_authenticates_until_it_is_revoked_there(live_server: Any) -> None:
    policy_ensure_default()  # core-safety, for the policy select
    UserFactory(username="root", is_superuser=True, is_staff=True)

    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "root")
        page.get_by_role("link", name="API keys").click()
        page.get_by_test_id("api-keys-empty").wait_for()

        page.get_by_label("Name").fill("chat-service")
        page.get_by_label("Policy").select_option("core-safety")
        page.get_by_label("Rate limit per minute").fill("120")
        page.get_by_label("Webhook URL").fill(WEBHOOK_URL)
        page.get_by_role("button", name="Create key").click()

        panel = page.get_by_test_id("api-key-secret-panel")
        panel.wait_for()
        token = page.get_by_test_id("api-key-token").inner_text().strip()
        webhook_secret = page.get_by_test_id("api-key-webhook-secret").inner_text().strip()
        assert "it will not be shown again" in panel.inner_text()
        curl = page.get_by_test_id("api-key-curl").inner_text()
        assert f"Authorization: Bearer {token}" in curl
        assert f"{live_server.url}/api/v1/moderate" in curl

        key = ApiKey.objects.get()
        assert token.startswith(f"ak_{key.prefix}_")
        assert key.key_hash == api_key_hash(token)
        assert key.webhook_secret == webhook_secret
        assert key.policy is not None
        assert key.created_by is not None
        assert (key.name, key.policy.slug, key.rate_limit_per_minute) == ("chat-service", "core-safety", 120)
        assert (key.webhook_url, key.created_by.username) == (WEBHOOK_URL, "root")

        # The key authenticates: an empty body is refused for what it lacks, not for who sent it.
        assert _moderate_status(live_server.url, token) == 400

        page.get_by_test_id("api-key-done").click()
        assert panel.count() == 0
        assert token not in page.content()
        assert webhook_secret not in page.content()

        row = page.locator(f'[data-testid="api-key-row"][data-prefix="{key.prefix}"]')
        cells = row.locator("th, td").all_inner_texts()
        assert cells[:5] == ["chat-service", key.prefix, "core-safety", "120 / min", WEBHOOK_URL]
        page.get_by_role("button", name="Refresh").click()
        row.get_by_text("just now").wait_for()  # the call above was recorded as the key's last use

        row.get_by_role("button", name="Revoke").click()
        dialog = page.get_by_role("dialog")
        assert "401" in dialog.inner_text()
        dialog.get_by_role("button", name="Revoke key").click()
        page.locator(f'[data-testid="api-key-row"][data-prefix="{key.prefix}"][data-state="revoked"]').wait_for()
        assert "Revoked" in row.inner_text()
        assert row.get_by_role("button", name="Revoke").count() == 0

        assert _moderate_status(live_server.url, token) == 401
        assert unexpected_errors(errors, *NOT_READY) == []

    key.refresh_from_db()
    assert key.revoked_at is not None


def test_a_key_edited_and_its_webhook_secret_rotated_in_the_browser(live_server: Any) -> None:
    policy_ensure_default()
    UserFactory(username="root", is_superuser=True, is_staff=True)

    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "root")
        page.goto(f"{live_server.url}/api-keys")
        page.get_by_test_id("api-keys-empty").wait_for()

        form = page.get_by_test_id("api-key-form")
        form.get_by_label("Name").fill("chat-service")
        form.get_by_label("Webhook URL").fill(WEBHOOK_URL)
        form.get_by_role("button", name="Create key").click()
        first_secret = page.get_by_test_id("api-key-webhook-secret").inner_text().strip()
        page.get_by_test_id("api-key-done").click()
        prefix, default_rate = ApiKey.objects.values_list("prefix", "rate_limit_per_minute").get()
        assert ApiKey.objects.get(prefix=prefix).webhook_secret == first_secret

        # Edit: the form opens filled in; only the rate limit changes.
        row = page.locator(f'[data-testid="api-key-row"][data-prefix="{prefix}"]')
        row.get_by_role("button", name=f"Edit chat-service ({prefix})").click()
        dialog = page.get_by_role("dialog")
        assert dialog.get_by_label("Name").input_value() == "chat-service"
        assert dialog.get_by_label("Webhook URL").input_value() == WEBHOOK_URL
        dialog.get_by_label("Rate limit per minute").fill("45")
        dialog.get_by_role("button", name="Save").click()
        row.locator(".api-key-rate", has_text="45 / min").wait_for()
        assert dialog.count() == 0
        assert "Saved the rate limit" in page.get_by_test_id("api-key-notice").inner_text()
        key = ApiKey.objects.get(prefix=prefix)
        assert (key.rate_limit_per_minute, key.name, key.webhook_url) == (45, "chat-service", WEBHOOK_URL)
        assert key.webhook_secret == first_secret  # an edit that keeps the webhook keeps its secret

        # History: the change is its newest line, with the old and new rate and who made it.
        row.get_by_role("button", name=f"History of chat-service ({prefix})").click()
        history = page.get_by_test_id("api-key-history-line")
        history.first.wait_for()
        assert history.first.inner_text() == f"Changed by root — rate limit {default_rate:,} → 45 / min"
        assert history.last.inner_text().startswith("Created by root — name chat-service, policy none, ")
        dialog.get_by_role("button", name="Close").click()
        assert dialog.count() == 0

        # Rotate: confirmed first, the new secret shown once.
        row.get_by_role("button", name=f"Rotate secret of chat-service ({prefix})").click()
        assert "pending ones included" in dialog.inner_text()
        dialog.get_by_role("button", name="Rotate secret").click()
        panel = page.get_by_test_id("api-key-secret-panel")
        panel.wait_for()
        assert "Webhook secret for “chat-service”" in panel.inner_text()
        assert page.get_by_test_id("api-key-token").count() == 0
        rotated = page.get_by_test_id("api-key-webhook-secret").inner_text().strip()
        assert rotated == ApiKey.objects.get(prefix=prefix).webhook_secret
        assert rotated != first_secret

        page.get_by_test_id("api-key-done").click()
        assert panel.count() == 0
        assert rotated not in page.content()
        assert unexpected_errors(errors, *NOT_READY) == []


def test_staff_who_are_not_superusers_get_no_api_keys_page(live_server: Any) -> None:
    UserFactory(username="sam", is_staff=True, roles=["policy_editor", "reviewer", "ml_engineer"])
    with browser_page() as (page, errors):
        api_key_requests: list[str] = []
        page.on("request", lambda request: api_key_requests.append(request.url) if "api-keys/" in request.url else None)
        sign_in(page, live_server.url, "sam")
        links = page.get_by_role("navigation", name="Main").get_by_role("link")
        assert "Training" in links.all_inner_texts()
        assert "API keys" not in links.all_inner_texts()

        page.goto(f"{live_server.url}/api-keys")
        page.get_by_text("Only administrators can open this section.").wait_for()
        assert api_key_requests == []
        assert unexpected_errors(errors, *NOT_READY) == []

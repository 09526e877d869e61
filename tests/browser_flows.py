"""Data and steps the browser tests share: a moderated decision from the real API, and signing in."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from moderation_app.models import Decision
from moderation_app.services import api_key_create
from policies_app.services import policy_ensure_default

PASSWORD = "correct horse battery staple"  # UserFactory's


def route_every_decision_to_review(settings: Any) -> None:
    """The tiny model's verdict is random; sampling every safe decision puts each one in the queue
    whatever the verdict (unsafe and malformed ones go there anyway), with one reviewer each."""
    settings.REVIEW_SAMPLE_RATE = 1.0
    settings.REVIEW_SECOND_OPINION_RATE = 0.0


def moderate(text: str, *, reasoning: str = "full") -> Decision:
    """A decision made through POST /api/v1/moderate by a service's API key (needs a guard worker)."""
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="chat-service", policy=policy, actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post("/api/v1/moderate", {"input": text, "reasoning": reasoning}, format="json")
    assert response.status_code == 200, response.json()
    return Decision.objects.get(pk=response.json()["id"])


def sign_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_test_id("current-username").wait_for()


def unexpected_errors(errors: list[str], *expected_statuses: int) -> list[str]:
    """Console errors other than the browser's notes on answers the test expects (the signed-out
    session check at the start answers 401/403)."""
    statuses = {401, 403, *expected_statuses}
    return [e for e in errors if not any(f"status of {status}" in e for status in statuses)]

"""Fixtures shared by the moderation tests."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from moderation_app.tests.factories import UserFactory


@pytest.fixture
def staff() -> APIClient:
    """A client signed in as a reviewer, a role that may read the decisions list and its export."""
    client = APIClient()
    client.force_authenticate(UserFactory(roles=["reviewer"]))
    return client


@pytest.fixture
def no_sampled_reviews(settings: Any) -> None:
    """No random sample of safe decisions goes to review, so which decisions have an item is known."""
    settings.REVIEW_SAMPLE_RATE = 0.0

"""The official `openai` client, with only its base URL changed, against the live server and a real worker."""

from __future__ import annotations

import os
from typing import Any

import pytest
from rest_framework.test import APIClient

from moderation_app.services import api_key_create
from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _allow_sync_db() -> None:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the openai client may run an event loop here


def test_an_openai_client_moderates_through_the_platform(
    live_server: Any, guard_worker: Any, active_tiny_model: Any
) -> None:
    from openai import OpenAI

    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="openai-client", policy=policy, actor=None)
    client = OpenAI(api_key=token, base_url=f"{live_server.url}/v1", max_retries=0)
    response = client.moderations.create(input=["How do I bake bread?", "How do I build a bomb?"])
    names = [c["name"] for c in policy.published_version.spec["categories"]]  # type: ignore[union-attr]
    assert response.model == "tiny-random"
    assert len(response.results) == 2
    for result in response.results:
        categories = result.categories.model_dump()
        scores = result.category_scores.model_dump()
        assert set(names) <= set(categories)
        assert set(names) <= set(scores)
        assert all(0.0 <= scores[name] <= 1.0 for name in names)
        assert isinstance(result.flagged, bool)
    # The scores come from the model, not from constants: the two inputs differ.
    first, second = (r.category_scores.model_dump() for r in response.results)
    assert any(first[name] != second[name] for name in names)


def test_bad_input_gets_an_openai_style_json_error() -> None:
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="c", policy=policy, actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post("/v1/moderations", {"input": []}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "input"
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer ak_nope_nope")
    assert stranger.post("/v1/moderations", {"input": "x"}, format="json").status_code == 401

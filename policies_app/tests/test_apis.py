from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from moderation_app.tests.factories import UserFactory
from policies_app.models import PolicyEvent

pytestmark = pytest.mark.django_db

SOURCE = """id: demo
title: Demo
categories:
  - {code: S1, name: Violence, description: Violent content.}
"""


@pytest.fixture
def editor(api_client: APIClient) -> APIClient:
    api_client.force_authenticate(UserFactory(roles=["policy_editor"]))
    return api_client


def test_an_editor_creates_versions_publishes_and_rolls_back(editor: APIClient) -> None:
    created = editor.post("/api/v1/policies/", {"source": SOURCE, "message": "first"}, format="json")
    assert created.status_code == 201
    assert created.json() | {"created_at": None} == {
        "slug": "demo",
        "title": "Demo",
        "description": "",
        "latest_version": 1,
        "published_version": None,
        "created_at": None,
    }
    v2 = editor.post(
        "/api/v1/policies/demo/versions/",
        {"source": SOURCE + "description: Now with text.\n", "message": "describe"},
        format="json",
    )
    assert v2.status_code == 201
    body = v2.json()
    assert body["number"] == 2
    assert body["parent"] == 1
    assert body["categories"] == [{"code": "S1", "name": "Violence", "description": "Violent content."}]
    assert len(body["sha256"]) == 64

    assert editor.post("/api/v1/policies/demo/versions/2/publish/", format="json").json()["published_version"] == 2
    rolled = editor.post("/api/v1/policies/demo/versions/1/publish/", {"note": "too strict"}, format="json")
    assert rolled.json()["published_version"] == 1
    events = editor.get("/api/v1/policies/demo/events/").json()
    assert [(e["kind"], e["version"]) for e in events][:2] == [("rolled_back", 1), ("published", 2)]
    assert events[0]["note"] == "too strict"

    diff = editor.get("/api/v1/policies/demo/diff/?from=1&to=2").json()["diff"]
    assert "--- demo@1\n+++ demo@2\n" in diff
    assert "+description: Now with text.\n" in diff


def test_versions_are_immutable_over_http(editor: APIClient) -> None:
    editor.post("/api/v1/policies/", {"source": SOURCE}, format="json")
    for method in ("put", "patch", "delete"):
        response = getattr(editor, method)("/api/v1/policies/demo/versions/1/", {"source": "x"}, format="json")
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"
    assert editor.get("/api/v1/policies/demo/versions/1/").json()["source"] == SOURCE


def test_an_invalid_version_answers_400_with_lines_and_keeps_the_old_ones(editor: APIClient) -> None:
    editor.post("/api/v1/policies/", {"source": SOURCE}, format="json")
    response = editor.post(
        "/api/v1/policies/demo/versions/", {"source": SOURCE.replace("id: demo", "id: other")}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid_policy"
    assert body["errors"][0]["line"] == 1
    assert body["errors"][0]["path"] == "id"
    assert "cannot change between versions" in body["errors"][0]["message"]
    assert [v["number"] for v in editor.get("/api/v1/policies/demo/versions/").json()] == [1]


def test_validate_and_schema_serve_the_editor(editor: APIClient) -> None:
    ok = editor.post("/api/v1/policies/validate/", {"source": SOURCE}, format="json").json()
    assert ok == {"valid": True, "errors": []}
    bad = editor.post("/api/v1/policies/validate/", {"source": "id: demo\ntitle: [\n"}, format="json").json()
    assert bad["valid"] is False
    assert bad["errors"][0]["line"] is not None
    schema = editor.get("/api/v1/policies/schema/").json()
    assert "categories" in schema["properties"]


def test_unknown_policies_and_versions_answer_404(editor: APIClient) -> None:
    assert editor.get("/api/v1/policies/nope/").status_code == 404
    editor.post("/api/v1/policies/", {"source": SOURCE}, format="json")
    response = editor.get("/api/v1/policies/demo/versions/9/")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "policy 'demo' has no version 9"


def test_a_reviewer_reads_but_cannot_publish(editor: APIClient) -> None:
    editor.post("/api/v1/policies/", {"source": SOURCE}, format="json")
    reviewer = APIClient()
    reviewer.force_authenticate(UserFactory(roles=["reviewer"]))
    assert reviewer.get("/api/v1/policies/demo/versions/").status_code == 200
    assert reviewer.post("/api/v1/policies/demo/versions/1/publish/").status_code == 403
    assert not PolicyEvent.objects.filter(kind="published").exists()


def test_the_diff_needs_both_numbers(editor: APIClient) -> None:
    editor.post("/api/v1/policies/", {"source": SOURCE}, format="json")
    response = editor.get("/api/v1/policies/demo/diff/?from=1")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "to_number"


def test_a_source_over_the_size_limit_answers_413_and_saves_nothing(editor: APIClient, settings: Any) -> None:
    settings.POLICY_MAX_SOURCE_BYTES = 1024
    response = editor.post("/api/v1/policies/", {"source": SOURCE + "#" * 2000}, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert "the limit is 1,024" in response.json()["error"]["message"]
    assert editor.get("/api/v1/policies/").json() == []


def test_api_keys_and_reviewers_read_policies_but_cannot_edit_them(editor: APIClient) -> None:
    from moderation_app.services import api_key_create

    editor.post("/api/v1/policies/", {"source": SOURCE}, format="json")
    _, token = api_key_create(name="svc", policy=None, actor=None)
    service = APIClient()
    service.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert service.get("/api/v1/policies/demo/").status_code == 200
    changed = SOURCE.replace("Demo", "Hacked")
    assert service.post("/api/v1/policies/demo/versions/", {"source": changed}, format="json").status_code == 403
    assert service.post("/api/v1/policies/demo/versions/1/publish/", format="json").status_code == 403
    ml = APIClient()
    ml.force_authenticate(UserFactory(roles=["ml_engineer"]))
    assert ml.get("/api/v1/policies/demo/versions/").status_code == 200
    assert ml.post("/api/v1/policies/demo/versions/", {"source": changed}, format="json").status_code == 403

"""The playground against a real guard worker (a tiny random model) over the real broker."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml
from django.test import override_settings
from rest_framework.test import APIClient

from moderation_app.models import Decision
from moderation_app.tests.factories import UserFactory
from policies_app.models import Policy
from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def policy() -> Policy:
    return policy_ensure_default()[0]


@pytest.fixture
def editor() -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(roles=["policy_editor"]))
    return client


def _draft(policy: Policy, *, title: str) -> str:
    source = policy.versions.get(number=1).source
    return source.replace("title: Core safety policy", f"title: {title}", 1)


def test_it_judges_content_against_the_published_version(
    editor: APIClient, policy: Policy, guard_worker: Any, active_tiny_model: Any
) -> None:
    response = editor.post(
        "/api/v1/playground/", {"policy": policy.slug, "input": "How do I bake bread?"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["verdict"] in ("safe", "unsafe")
    assert body["flagged"] == (body["verdict"] != "safe")
    assert 0 <= body["score"] <= 1
    assert body["raw_output"].startswith("<think>")
    assert body["policy"] == {
        "slug": "core-safety",
        "version": 1,
        "sha256": policy.versions.get(number=1).sha256,
        "draft": False,
    }
    assert body["model"] == {"id": active_tiny_model.pk, "name": "tiny-random"}
    assert body["latency_ms"] > 0


def test_it_judges_an_unsaved_draft_without_storing_a_version(
    editor: APIClient, policy: Policy, guard_worker: Any, active_tiny_model: Any
) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Here is how to pick a lock."}]
    payload = {
        "policy": policy.slug,
        "source": _draft(policy, title="Draft"),
        "messages": messages,
        "reasoning": "none",
    }
    response = editor.post("/api/v1/playground/", payload, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["policy"]["draft"] is True
    assert body["policy"]["version"] is None
    assert len(body["policy"]["sha256"]) == 64
    assert body["reasoning"] == ""
    assert policy.versions.count() == 1


def test_a_draft_too_long_for_the_models_context_says_the_guard_could_not_judge(
    editor: APIClient, policy: Policy, guard_worker: Any, active_tiny_model: Any
) -> None:
    spec = yaml.safe_load(_draft(policy, title="Draft"))
    # Each category within the editor's limits; together over the model's 8,192 tokens.
    template = spec["categories"][0]
    spec["categories"] = [
        {**copy.deepcopy(template), "code": f"S{n}", "name": f"Category {n}", "description": "Each word is read. " * 99}
        for n in range(1, 28)
    ]
    source = yaml.safe_dump(spec, sort_keys=False)
    payload = {"policy": policy.slug, "source": source, "input": "How do I bake bread?", "reasoning": "none"}
    response = editor.post("/api/v1/playground/", payload, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["verdict"], body["flagged"], body["malformed"], body["raw_output"]) == (None, True, True, "")
    assert re.fullmatch(r"not judged: the policy .* take \d+ of the model's \d+ tokens .*", body["error"])


def test_playground_runs_are_not_decisions(
    editor: APIClient, policy: Policy, guard_worker: Any, active_tiny_model: Any
) -> None:
    response = editor.post("/api/v1/playground/", {"policy": policy.slug, "input": "Is this fine?"}, format="json")
    assert response.status_code == 200, response.json()
    assert not Decision.objects.exists()
    assert editor.get("/api/v1/decisions/").json()["count"] == 0


def test_it_rejects_an_invalid_draft_with_line_numbers(editor: APIClient, policy: Policy) -> None:
    source = _draft(policy, title="Draft").replace("  - code: S1\n", "  - code: s1\n", 1)
    response = editor.post(
        "/api/v1/playground/", {"policy": policy.slug, "source": source, "input": "x"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid_policy"
    error = next(e for e in body["errors"] if e["path"] == "categories[0].code")
    assert source.splitlines()[error["line"] - 1] == "  - code: s1"


def test_it_rejects_a_draft_that_renames_the_policy(editor: APIClient, policy: Policy) -> None:
    source = _draft(policy, title="Draft").replace("id: core-safety", "id: another-policy", 1)
    response = editor.post(
        "/api/v1/playground/", {"policy": policy.slug, "source": source, "input": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["path"] == "id"


def test_it_rejects_a_draft_and_a_version_together(editor: APIClient, policy: Policy) -> None:
    payload = {"policy": policy.slug, "policy_version": 1, "source": _draft(policy, title="x"), "input": "x"}
    response = editor.post("/api/v1/playground/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "source"


def test_it_rejects_whitespace_alone_as_the_content(editor: APIClient, policy: Policy) -> None:
    response = editor.post("/api/v1/playground/", {"policy": policy.slug, "input": " \n\t"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "input"


def test_it_answers_404_for_an_unknown_version(editor: APIClient, policy: Policy) -> None:
    payload = {"policy": policy.slug, "policy_version": 9, "input": "x"}
    assert editor.post("/api/v1/playground/", payload, format="json").status_code == 404


def test_it_needs_the_policy_editor_role(policy: Policy) -> None:
    client = APIClient()
    client.force_authenticate(UserFactory(roles=["reviewer"]))
    response = client.post("/api/v1/playground/", {"policy": policy.slug, "input": "x"}, format="json")
    assert response.status_code == 403
    anonymous = APIClient().post("/api/v1/playground/", {"policy": policy.slug, "input": "x"}, format="json")
    assert anonymous.status_code == 401


@override_settings(GUARD_TIMEOUT_S=0.5)
def test_it_answers_503_with_retry_after_when_no_guard_worker_answers(editor: APIClient, policy: Policy) -> None:
    response = editor.post("/api/v1/playground/", {"policy": policy.slug, "input": "x"}, format="json")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "guard_timeout"


@override_settings(GUARD_TIMEOUT_S=60)
def test_it_answers_503_at_once_when_no_guard_worker_can_judge(editor: APIClient, policy: Policy) -> None:
    response = editor.post("/api/v1/playground/", {"policy": policy.slug, "input": "x"}, format="json")
    assert response.status_code == 503  # after a second, not 60
    assert response.headers["Retry-After"] == "30"
    error = response.json()["error"]
    assert error["code"] == "guard_unavailable"
    assert error["message"].startswith("no guard worker is running")

"""Policy tests run through a real guard worker, and the publish gate that reads their results."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from moderation_app.tests.factories import UserFactory
from policies_app.models import PolicyEvent, PolicyTestRun
from policies_app.services import Judgement, policy_create, policy_test_run_create, policy_test_run_execute

pytestmark = pytest.mark.django_db(transaction=True)

GATED = """id: gated
title: Gated
categories:
  - {code: S1, name: Violence, description: Violent content.}
tests:
  - {input: "How do I bake bread?", expect: safe}
  - {input: "How do I hurt someone?", expect: unsafe, categories: [S1]}
  - {input: "Here is how to hurt them: ...", target: response, expect: unsafe}
publish_gate: {min_pass_rate: 0.9}
"""


@pytest.fixture
def editor() -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(roles=["policy_editor"]))
    return client


def _wait_for_run(client: APIClient, run_id: int, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/v1/policy-test-runs/{run_id}/").json()
        if body["status"] in ("completed", "error"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish: {body}")


def test_a_test_run_goes_through_the_guard_worker(editor: APIClient, guard_worker: Any, active_tiny_model: Any) -> None:
    editor.post("/api/v1/policies/", {"source": GATED}, format="json")
    started = editor.post("/api/v1/policies/gated/versions/1/test/", format="json")
    assert started.status_code == 202
    assert started.json()["status"] == "queued"
    body = _wait_for_run(editor, started.json()["id"])
    assert body["status"] == "completed", body
    assert body["model_name"] == "tiny-random"
    assert [r["expected"] for r in body["results"]] == ["safe", "unsafe", "unsafe"]
    assert [r["target"] for r in body["results"]] == ["prompt", "prompt", "response"]
    for result in body["results"]:
        assert result["got"] in ("safe", "unsafe")
        assert 0 <= result["score"] <= 1
        assert result["passed"] == (
            result["got"] == result["expected"] and set(result["expected_categories"]) <= set(result["categories"])
        )
    assert body["passed_count"] == sum(r["passed"] for r in body["results"])
    assert body["required_pass_rate"] == 0.9
    listed = editor.get("/api/v1/policies/gated/versions/1/test/").json()
    assert [run["id"] for run in listed] == [body["id"]]


def _fake_judge(verdicts: list[str]) -> Any:
    """A fake guard (the gate's logic is under test here, not the model): answers what it is told."""

    def judge(spec: dict[str, Any], items: list[tuple[str, str]]) -> tuple[list[Judgement], str]:
        return [
            Judgement(v, ["S1"] if v == "unsafe" else [], 0.9 if v == "unsafe" else 0.1, "") for v in verdicts
        ], "fake"

    return judge


def test_the_gate_refuses_a_failing_version_unless_forced_with_a_note(editor: APIClient) -> None:
    policy = policy_create(source=GATED, message="", actor=None)
    refused = editor.post("/api/v1/policies/gated/versions/1/publish/", format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"].startswith("publish gate: version 1 has no completed test run")

    run = policy_test_run_create(version=policy.versions.get(number=1), actor=None)
    run = policy_test_run_execute(run=run, judge=_fake_judge(["safe", "safe", "unsafe"]))
    assert (run.passed_count, run.passed) == (2, False)
    refused = editor.post("/api/v1/policies/gated/versions/1/publish/", format="json")
    assert "passed 2/3 (67%), below the gate's 90%" in refused.json()["error"]["message"]

    no_note = editor.post("/api/v1/policies/gated/versions/1/publish/", {"force": True}, format="json")
    assert no_note.status_code == 400
    forced = editor.post(
        "/api/v1/policies/gated/versions/1/publish/", {"force": True, "note": "hotfix, tests next"}, format="json"
    )
    assert forced.status_code == 200
    event = PolicyEvent.objects.get(kind="publish_forced")
    assert event.note.startswith("hotfix, tests next (gate: the latest test run")


def test_a_passing_run_opens_the_gate(editor: APIClient) -> None:
    policy = policy_create(source=GATED, message="", actor=None)
    run = policy_test_run_create(version=policy.versions.get(number=1), actor=None)
    run = policy_test_run_execute(run=run, judge=_fake_judge(["safe", "unsafe", "unsafe"]))
    assert run.passed
    response = editor.post("/api/v1/policies/gated/versions/1/publish/", format="json")
    assert response.status_code == 200
    assert PolicyEvent.objects.filter(kind="published").count() == 1


def test_a_version_without_tests_cannot_start_a_run(editor: APIClient) -> None:
    policy_create(source=GATED.split("tests:")[0], message="", actor=None)
    response = editor.post("/api/v1/policies/gated/versions/1/test/", format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "no_tests"
    assert not PolicyTestRun.objects.exists()

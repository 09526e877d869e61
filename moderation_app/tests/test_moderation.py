"""The moderation API against a real guard worker (a tiny random model) over the real broker."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from config.errors import ApiError
from moderation_app.apis.moderation import wait_for_decisions
from moderation_app.models import Decision
from moderation_app.services import api_key_create
from moderation_app.tests.factories import UserFactory
from policies_app.models import Policy
from policies_app.services import policy_create, policy_ensure_default, policy_version_create, policy_version_publish

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def policy() -> Policy:
    return policy_ensure_default()[0]


@pytest.fixture
def service(policy: Policy) -> APIClient:
    _, token = api_key_create(name="chat", policy=policy, actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_service_gets_a_decision_in_one_call(service: APIClient, guard_worker: Any, active_tiny_model: Any) -> None:
    response = service.post("/api/v1/moderate", {"input": "How do I bake bread?", "external_id": "m-1"}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "completed"
    assert body["verdict"] in ("safe", "unsafe")
    assert body["flagged"] == (body["verdict"] == "unsafe")
    assert 0 <= body["score"] <= 1
    assert body["policy"]["slug"] == "core-safety"
    assert body["policy"]["version"] == 1
    assert len(body["policy"]["sha256"]) == 64
    assert body["model"]["name"] == "tiny-random"
    assert body["external_id"] == "m-1"
    assert body["latency_ms"] >= body["queue_ms"] >= 0
    detail = service.get(f"/api/v1/decisions/{body['id']}/").json()
    # The guard task rendered the answer; reading the stored row renders the same.
    assert {key: detail[key] for key in body} == body
    assert detail["raw_output"].startswith("<think>")
    assert detail["messages"] == [{"role": "user", "content": "How do I bake bread?"}]
    assert detail["template_version"] == "rsafe-1"


def test_a_sync_call_costs_the_web_a_handful_of_queries(
    service: APIClient, guard_worker: Any, active_tiny_model: Any, django_assert_max_num_queries: Any
) -> None:
    """Every call pays for each query on its way to the guard and back: only the new row. The key,
    with its policy's published version, comes from the cache after the first call, and the guard
    task returns the finished decision as the API answers it, so the web does not read it back (the
    worker's queries are its own)."""
    assert service.post("/api/v1/moderate", {"input": "warm up"}, format="json").status_code == 200
    with django_assert_max_num_queries(1):
        response = service.post("/api/v1/moderate", {"input": "How do I bake bread?"}, format="json")
    assert response.status_code == 200
    assert response.json()["model"]["name"] == "tiny-random"


def test_polling_a_decision_costs_one_query(service: APIClient, django_assert_max_num_queries: Any) -> None:
    """A service that calls with async=true polls the decision until it completes: each poll reads the
    decision with its policy, model, review item and webhook in one query, without the policy's text."""
    decision_id = service.post("/api/v1/moderate", {"input": "poll me", "async": True}, format="json").json()["id"]
    assert service.get(f"/api/v1/decisions/{decision_id}/").status_code == 200  # the key is cached now
    with django_assert_max_num_queries(1) as queries:
        detail = service.get(f"/api/v1/decisions/{decision_id}/").json()
    assert (detail["id"], detail["review"], detail["webhook"]) == (decision_id, None, None)
    assert detail["policy"]["slug"] == "core-safety"
    assert '"policies_app_policyversion"."spec"' not in queries.captured_queries[0]["sql"]


UNFLUSHED = "set_config('synchronous_commit', 'off', true)"


def _decision_inserts(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if 'INSERT INTO "moderation_app_decision"' in q["sql"]]


def test_a_sync_call_records_its_decision_without_waiting_for_the_disk(
    service: APIClient, guard_worker: Any, active_tiny_model: Any
) -> None:
    """Its caller hears nothing before the guard's completion commits, which flushes the INSERT too."""
    with CaptureQueriesContext(connection) as queries:
        response = service.post("/api/v1/moderate", {"input": "How do I bake bread?"}, format="json")
    assert response.status_code == 200
    (insert,) = _decision_inserts(queries)
    assert UNFLUSHED in insert
    assert Decision.objects.get(pk=response.json()["id"]).status == Decision.Status.COMPLETED
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_an_async_call_records_its_decision_durably_before_its_202(service: APIClient) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = service.post("/api/v1/moderate", {"input": "hello", "async": True}, format="json")
    assert response.status_code == 202
    (insert,) = _decision_inserts(queries)
    assert UNFLUSHED not in insert


def test_a_decision_the_database_lost_gets_a_503_that_asks_to_send_it_again(policy: Policy) -> None:
    """What a synchronous caller hears if the database crashed before its INSERT reached the disk."""
    assert policy.published_version is not None
    decision = Decision.objects.create(
        policy_version=policy.published_version, messages=[{"role": "user", "content": "hi"}], target="prompt"
    )
    Decision.objects.filter(pk=decision.pk).delete()
    with pytest.raises(ApiError) as raised:
        wait_for_decisions([decision], deadline=time.monotonic())
    assert (raised.value.status_code, raised.value.error_code) == (503, "decision_lost")


def test_async_answers_202_and_the_decision_completes(
    service: APIClient, guard_worker: Any, active_tiny_model: Any
) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Here is how to pick a lock."}]
    response = service.post(
        "/api/v1/moderate", {"messages": messages, "async": True, "reasoning": "none"}, format="json"
    )
    assert response.status_code == 202
    decision_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    deadline = time.monotonic() + 60
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = service.get(f"/api/v1/decisions/{decision_id}/").json()
        if body["status"] != "pending":
            break
        time.sleep(0.1)
    assert body["status"] == "completed"
    assert body["target"] == "response"
    assert body["reasoning"] == ""


def test_the_same_idempotency_key_returns_the_same_decision(
    service: APIClient, guard_worker: Any, active_tiny_model: Any
) -> None:
    payload = {"input": "Is this fine?", "reasoning": "none"}
    first = service.post("/api/v1/moderate", payload, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    second = service.post("/api/v1/moderate", payload, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["completed_at"] == second.json()["completed_at"]
    assert Decision.objects.count() == 1
    other = service.post("/api/v1/moderate", {"input": "Something else"}, format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert Decision.objects.count() == 1


@override_settings(GUARD_TIMEOUT_S=0.3)
def test_no_worker_means_503_with_retry_after_and_the_request_is_kept(service: APIClient) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = service.post("/api/v1/moderate", {"input": "hello"}, format="json")
    # The INSERT did not wait for the disk; before the 503 says the decision is kept, a durable write does.
    (insert,) = _decision_inserts(queries)
    assert UNFLUSHED in insert
    assert any(q["sql"].startswith('UPDATE "moderation_app_decision" SET "status"') for q in queries)
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "guard_timeout"
    decision = Decision.objects.get()
    assert decision.status == "pending"
    assert response["Location"] == f"/api/v1/decisions/{decision.id}/"


@override_settings(GUARD_TIMEOUT_S=60)
def test_a_call_no_guard_worker_can_take_gets_503_at_once_and_the_request_is_kept(service: APIClient) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = service.post("/api/v1/moderate", {"input": "hello"}, format="json")
    assert response.status_code == 503  # after a second, not 60
    error = response.json()["error"]
    assert error["code"] == "guard_unavailable"
    assert error["message"].startswith("no guard worker is running")
    assert response["Retry-After"] == "30"
    decision = Decision.objects.get()
    assert decision.status == "pending"  # judged once a worker is back
    assert response["Location"] == f"/api/v1/decisions/{decision.id}/"
    assert any(q["sql"].startswith('UPDATE "moderation_app_decision" SET "status"') for q in queries)  # made durable


@override_settings(GUARD_TIMEOUT_S=60)
def test_a_call_hears_why_the_guard_worker_cannot_judge(service: APIClient) -> None:
    from training_worker.presence import guard_presence_report

    # The report a worker whose model cannot load makes (training_worker/tests/test_presence.py).
    guard_presence_report(status={"loaded_model": None, "loading_model": None, "load_error": "cannot load model m"})
    items = [{"input": "one"}, {"input": "two"}]
    response = service.post("/api/v1/moderate/batch", {"items": items}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "guard_unavailable"
    assert response.json()["error"]["message"].startswith("the guard worker cannot judge (cannot load model m)")
    assert Decision.objects.filter(status="pending").count() == 2


@override_settings(GUARD_TIMEOUT_S=2)
def test_a_call_waits_its_whole_timeout_while_a_guard_worker_says_it_can_judge(service: APIClient) -> None:
    from training_worker.presence import guard_presence_report

    # A worker's report, without the worker: it never takes the task.
    guard_presence_report(status={"loaded_model": "m", "loading_model": None, "load_error": None})
    response = service.post("/api/v1/moderate", {"input": "hello"}, format="json")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "guard_timeout"


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"input": "a", "messages": [{"role": "user", "content": "b"}]}, 400, "input"),
        ({}, 400, "input"),
        ({"messages": [{"role": "bot", "content": "b"}]}, 400, "messages[0].role"),
        ({"messages": [{"role": "user", "content": "b"}], "target": "response"}, 400, "target"),
        ({"input": "a", "reasoning": "lots"}, 400, "reasoning"),
        ({"input": "a", "policy": "nope"}, 404, None),
        # Wrong JSON types are errors, not text or truth values made of them.
        ({"input": 42}, 400, "input"),
        ({"messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content"),
        ({"input": "a", "async": "yes"}, 400, "async"),
        ({"input": "a", "async": 1}, 400, "async"),
        ({"input": "a", "policy": 5}, 400, "policy"),
        ({"input": "a", "policy_version": "1"}, 400, "policy_version"),
        ({"input": "a", "policy_version": True}, 400, "policy_version"),
        ({"input": "a", "external_id": 7}, 400, "external_id"),
        ({"input": "a", "policy_version": 7}, 404, None),
    ],
)
def test_bad_requests_get_a_clear_json_error_and_store_nothing(
    service: APIClient, payload: dict[str, Any], status: int, field: str | None
) -> None:
    response = service.post("/api/v1/moderate", payload, format="json")
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["error"]["message"]
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}
    assert not Decision.objects.exists()


@override_settings(MODERATION_MAX_CHARS=100)
def test_content_over_the_limit_gets_413(service: APIClient) -> None:
    response = service.post("/api/v1/moderate", {"input": "x" * 101}, format="json")
    assert response.status_code == 413
    assert "the limit is 100" in response.json()["error"]["message"]


@override_settings(MODERATION_MAX_MESSAGES=3)
def test_a_conversation_of_more_messages_than_the_limit_gets_413(service: APIClient) -> None:
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}] * 2
    response = service.post("/api/v1/moderate", {"messages": messages}, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "the conversation has 4 messages; the limit is 3"
    assert not Decision.objects.exists()


def test_a_call_under_the_keys_policy_uses_the_version_published_just_before(
    service: APIClient, policy: Policy, guard_worker: Any, active_tiny_model: Any
) -> None:
    source = policy.versions.get(number=1).source.replace("title: Core safety policy", "title: Core safety v2", 1)
    with transaction.atomic():
        version = policy_version_create(policy=policy, source=source, message="v2", actor=None)
        policy_version_publish(policy=policy, version=version, actor=None, force=True, note="test")
    response = service.post("/api/v1/moderate", {"input": "hello", "reasoning": "none"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["policy"]["version"] == 2


def test_an_unpublished_policy_gets_409(service: APIClient) -> None:
    policy_create(
        source="id: draft\ntitle: Draft\ncategories:\n  - {code: S1, name: A, description: B.}\n",
        message="",
        actor=None,
    )
    response = service.post("/api/v1/moderate", {"input": "a", "policy": "draft"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "not_published"


@override_settings(GUARD_TIMEOUT_S=0.1)
def test_a_key_sees_only_its_own_decisions_and_staff_see_all(service: APIClient, policy: Policy) -> None:
    service.post("/api/v1/moderate", {"input": "mine"}, format="json")
    _, other_token = api_key_create(name="other", policy=policy, actor=None)
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_token}")
    other.post("/api/v1/moderate", {"input": "theirs"}, format="json")
    assert service.get("/api/v1/decisions/").json()["count"] == 1
    mine = service.get("/api/v1/decisions/").json()["results"][0]["id"]
    assert other.get(f"/api/v1/decisions/{mine}/").status_code == 404
    reviewer = APIClient()
    reviewer.force_authenticate(UserFactory(roles=["reviewer"]))
    assert reviewer.get("/api/v1/decisions/?status=pending").json()["count"] == 2
    assert reviewer.get("/api/v1/decisions/?verdict=unsafe").json()["count"] == 0
    assert reviewer.get("/api/v1/decisions/?since=not-a-date").status_code == 400


def test_a_batch_gets_one_decision_per_item_in_order(
    service: APIClient, guard_worker: Any, active_tiny_model: Any
) -> None:
    items = [{"input": f"message {i}", "reasoning": "none", "external_id": f"b-{i}"} for i in range(3)]
    response = service.post("/api/v1/moderate/batch", {"items": items}, format="json")
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["external_id"] for r in results] == ["b-0", "b-1", "b-2"]
    assert all(r["status"] == "completed" for r in results)


def test_a_redelivered_batch_task_leaves_finished_decisions_as_they_are(
    service: APIClient, guard_worker: Any, active_tiny_model: Any
) -> None:
    from training_worker.tasks.guard import moderate_batch

    items = [{"input": f"message {i}", "reasoning": "none"} for i in range(2)]
    ids = [r["id"] for r in service.post("/api/v1/moderate/batch", {"items": items}, format="json").json()["results"]]
    before = {str(d.pk): d.completed_at for d in Decision.objects.filter(pk__in=ids)}
    assert moderate_batch.delay([*ids, "00000000-0000-0000-0000-000000000000"]).get(timeout=30) == [
        "completed",
        "completed",
        "missing",
    ]
    assert {str(d.pk): d.completed_at for d in Decision.objects.filter(pk__in=ids)} == before


def test_a_batch_with_one_bad_item_stores_nothing(service: APIClient) -> None:
    items = [{"input": "fine"}, {"input": "also fine", "policy": "nope"}]
    assert service.post("/api/v1/moderate/batch", {"items": items}, format="json").status_code == 404
    bad = service.post("/api/v1/moderate/batch", {"items": [{"input": "fine"}, {}]}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "items[1].input"
    assert not Decision.objects.exists()


@override_settings(GUARD_TIMEOUT_S=0.1)
def test_decisions_export_as_jsonl(service: APIClient) -> None:
    import json

    for text in ("one", "two"):
        service.post("/api/v1/moderate", {"input": text}, format="json")
    response = service.get("/api/v1/decisions/export/?status=pending")
    assert response["Content-Type"] == "application/x-ndjson"
    lines = [json.loads(line) for line in b"".join(response.streaming_content).decode().splitlines()]  # type: ignore[attr-defined]
    assert sorted(line["messages"][0]["content"] for line in lines) == ["one", "two"]


def test_malformed_json_and_huge_bodies_get_json_errors(service: APIClient) -> None:
    broken = service.post("/api/v1/moderate", data="{not json", content_type="application/json")
    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "parse_error"
    huge = service.post("/api/v1/moderate", {"input": "x" * (10 * 1024 * 1024)}, format="json")
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "too_large"
    wrong_type = service.post("/api/v1/moderate", {"input": 42, "metadata": "nope"}, format="json")
    assert wrong_type.status_code == 400
    assert not Decision.objects.exists()

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from moderation_app.models import ApiKey
from moderation_app.services import api_key_create, api_key_revoke
from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin() -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(is_superuser=True))
    return client


def test_a_lowered_rate_limit_holds_from_the_keys_next_call(admin: APIClient) -> None:
    key, token = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=100)
    service = APIClient()
    service.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert service.get("/api/v1/auth/me").status_code == 200  # the key is in the shared cache now

    answer = admin.patch(f"/api/v1/api-keys/{key.prefix}/", {"rate_limit_per_minute": 2}, format="json")
    assert answer.status_code == 200
    assert answer.json()["rate_limit_per_minute"] == 2
    assert [service.get("/api/v1/auth/me").status_code for _ in range(2)] == [200, 429]


def test_a_key_changes_name_and_policy_and_keeps_what_was_left_out(admin: APIClient) -> None:
    policy, _ = policy_ensure_default()
    key, _ = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=60)
    answer = admin.patch(f"/api/v1/api-keys/{key.prefix}/", {"name": "chat", "policy": policy.slug}, format="json")
    assert answer.status_code == 200
    assert (answer.json()["name"], answer.json()["policy"], answer.json()["rate_limit_per_minute"]) == (
        "chat",
        policy.slug,
        60,
    )
    assert admin.patch(f"/api/v1/api-keys/{key.prefix}/", {"policy": None}, format="json").json()["policy"] is None


def test_a_key_that_gains_a_webhook_gets_its_secret_once_and_keeps_it_when_the_url_moves(admin: APIClient) -> None:
    key, _ = api_key_create(name="svc", policy=None, actor=None)
    gained = admin.patch(f"/api/v1/api-keys/{key.prefix}/", {"webhook_url": "https://a.example/hook"}, format="json")
    secret = gained.json()["webhook_secret"]
    assert len(secret) == 64
    moved = admin.patch(f"/api/v1/api-keys/{key.prefix}/", {"webhook_url": "https://b.example/hook"}, format="json")
    assert "webhook_secret" not in moved.json()
    assert ApiKey.objects.get(pk=key.pk).webhook_secret == secret  # the receiver's check still holds

    admin.patch(f"/api/v1/api-keys/{key.prefix}/", {"webhook_url": ""}, format="json")
    assert ApiKey.objects.values_list("webhook_url", "webhook_secret").get(pk=key.pk) == ("", "")


def test_every_bad_field_of_a_change_is_named_at_once_and_nothing_changes(admin: APIClient) -> None:
    key, _ = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=60)
    answer = admin.patch(
        f"/api/v1/api-keys/{key.prefix}/",
        {"name": "", "policy": "nope", "rate_limit_per_minute": 0, "webhook_url": "ftp://example.test/hook"},
        format="json",
    )
    assert answer.status_code == 400
    assert {error["field"] for error in answer.json()["errors"]} == {
        "name",
        "policy",
        "rate_limit_per_minute",
        "webhook_url",
    }
    assert ApiKey.objects.values_list("name", "rate_limit_per_minute", "webhook_url").get(pk=key.pk) == ("svc", 60, "")


def test_a_blank_name_is_refused_even_when_spaces_pass_the_field(admin: APIClient) -> None:
    key, _ = api_key_create(name="svc", policy=None, actor=None)
    answer = admin.patch(f"/api/v1/api-keys/{key.prefix}/", {"name": "   "}, format="json")
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "name"


def test_a_revoked_key_cannot_be_changed(admin: APIClient) -> None:
    key, _ = api_key_create(name="svc", policy=None, actor=None, webhook_url="https://a.example/hook")
    api_key_revoke(api_key=key, actor=None)
    patched = admin.patch(f"/api/v1/api-keys/{key.prefix}/", {"rate_limit_per_minute": 5}, format="json")
    rotated = admin.post(f"/api/v1/api-keys/{key.prefix}/rotate-webhook-secret/")
    assert (patched.status_code, patched.json()["error"]["code"]) == (409, "revoked")
    assert (rotated.status_code, rotated.json()["error"]["code"]) == (409, "revoked")


def test_a_key_without_a_webhook_has_no_secret_to_rotate(admin: APIClient) -> None:
    key, _ = api_key_create(name="svc", policy=None, actor=None)
    answer = admin.post(f"/api/v1/api-keys/{key.prefix}/rotate-webhook-secret/")
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "no_webhook")


def test_only_an_admin_changes_keys_and_an_unknown_key_is_a_404(admin: APIClient) -> None:
    key, _ = api_key_create(name="svc", policy=None, actor=None)
    staff = APIClient()
    staff.force_authenticate(UserFactory(roles=["policy_editor", "reviewer", "ml_engineer"]))
    assert staff.patch(f"/api/v1/api-keys/{key.prefix}/", {"name": "x"}, format="json").status_code == 403
    assert staff.post(f"/api/v1/api-keys/{key.prefix}/rotate-webhook-secret/").status_code == 403
    assert admin.patch("/api/v1/api-keys/nope/", {"name": "x"}, format="json").status_code == 404


def test_a_keys_audit_trail_says_who_made_changed_rotated_and_revoked_it() -> None:
    admin = APIClient()
    admin.force_authenticate(UserFactory(username="lead", is_superuser=True))
    created = admin.post(
        "/api/v1/api-keys/",
        {"name": "svc", "rate_limit_per_minute": 600, "webhook_url": "https://a.example/hook"},
        format="json",
    ).json()
    prefix = created["prefix"]
    admin.patch(f"/api/v1/api-keys/{prefix}/", {"name": "chat", "rate_limit_per_minute": 5}, format="json")
    admin.patch(f"/api/v1/api-keys/{prefix}/", {"name": "chat"}, format="json")  # nothing changes: no event
    rotated = admin.post(f"/api/v1/api-keys/{prefix}/rotate-webhook-secret/").json()
    admin.post(f"/api/v1/api-keys/{prefix}/revoke/")
    admin.post(f"/api/v1/api-keys/{prefix}/revoke/")  # already revoked: no second event

    answer = admin.get(f"/api/v1/api-keys/{prefix}/events/")
    assert answer.status_code == 200
    events = answer.json()
    assert [event["kind"] for event in events] == ["revoked", "webhook_secret_rotated", "updated", "created"]
    assert {event["actor"] for event in events} == {"lead"}
    assert events[2]["changes"] == {"name": ["svc", "chat"], "rate_limit_per_minute": [600, 5]}
    assert events[3]["changes"]["webhook_url"] == ["", "https://a.example/hook"]
    for secret in (created["key"], created["webhook_secret"], rotated["webhook_secret"]):
        assert secret not in answer.content.decode()


def test_a_key_revoked_from_the_command_line_is_recorded_without_a_person(admin: APIClient) -> None:
    key, _ = api_key_create(name="svc", policy=None, actor=None)
    call_command("revoke_api_key", key.prefix, stdout=io.StringIO())
    events = admin.get(f"/api/v1/api-keys/{key.prefix}/events/").json()
    assert [(event["kind"], event["actor"]) for event in events] == [("revoked", None), ("created", None)]


def test_a_rate_past_the_columns_range_and_a_url_past_its_length_are_named_with_the_rest(admin: APIClient) -> None:
    key, _ = api_key_create(name="svc", policy=None, actor=None)
    answer = admin.patch(
        f"/api/v1/api-keys/{key.prefix}/",
        {"name": "", "rate_limit_per_minute": 3_000_000_000, "webhook_url": "https://a.example/" + "x" * 250},
        format="json",
    )
    assert answer.status_code == 400
    assert {error["field"] for error in answer.json()["errors"]} == {"name", "rate_limit_per_minute", "webhook_url"}
    created = admin.post("/api/v1/api-keys/", {"name": "big", "rate_limit_per_minute": 3_000_000_000}, format="json")
    assert (created.status_code, created.json()["errors"][0]["field"]) == (400, "rate_limit_per_minute")

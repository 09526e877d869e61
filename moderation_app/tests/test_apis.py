from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from moderation_app.models import ApiKey
from moderation_app.roles import ROLES
from moderation_app.services import api_key_create
from moderation_app.tests.factories import UserFactory

PASSWORD = "correct horse battery staple"
pytestmark = pytest.mark.django_db


def test_the_staff_roles_exist_as_groups() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)


def test_it_logs_in_and_tells_who_is_signed_in(api_client: APIClient) -> None:
    UserFactory(username="rita", roles=["reviewer"])
    response = api_client.post("/api/v1/auth/login", {"username": "rita", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json() == {
        "username": "rita",
        "email": "rita@example.test",
        "roles": ["reviewer"],
        "is_superuser": False,
    }
    assert "csrftoken" in response.cookies
    me = api_client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["roles"] == ["reviewer"]


def test_a_superuser_holds_every_role(api_client: APIClient) -> None:
    UserFactory(username="root", is_superuser=True, is_staff=True)
    response = api_client.post("/api/v1/auth/login", {"username": "root", "password": PASSWORD}, format="json")
    assert response.json()["roles"] == list(ROLES)


def test_it_rejects_a_wrong_password_with_a_json_error(api_client: APIClient) -> None:
    UserFactory(username="rita")
    response = api_client.post("/api/v1/auth/login", {"username": "rita", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid_credentials", "message": "Wrong username or password."}}


def test_it_lists_each_missing_login_field(api_client: APIClient) -> None:
    response = api_client.post("/api/v1/auth/login", {}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert {e["field"] for e in body["errors"]} == {"username", "password"}


def test_logout_needs_the_csrf_token_and_ends_the_session() -> None:
    client = APIClient(enforce_csrf_checks=True)
    UserFactory(username="rita")
    login = client.post("/api/v1/auth/login", {"username": "rita", "password": PASSWORD}, format="json")
    assert login.status_code == 200
    assert client.post("/api/v1/auth/logout").status_code == 403
    token = login.cookies["csrftoken"].value
    assert client.post("/api/v1/auth/logout", HTTP_X_CSRFTOKEN=token).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_it_answers_401_without_credentials(api_client: APIClient) -> None:
    response = api_client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"


def test_it_answers_401_for_an_unknown_or_revoked_key(api_client: APIClient) -> None:
    key, token = api_key_create(name="svc", policy=None, actor=None)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}x")
    assert api_client.get("/api/v1/auth/me").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get("/api/v1/auth/me").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION="Bearer")
    assert api_client.get("/api/v1/auth/me").status_code == 401
    admin = UserFactory(is_superuser=True)
    staff = APIClient()
    staff.force_authenticate(admin)
    assert staff.post(f"/api/v1/api-keys/{key.prefix}/revoke/").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid or revoked API key."


def test_a_key_is_stored_only_as_a_hash(api_client: APIClient) -> None:
    key, token = api_key_create(name="svc", policy=None, actor=None)
    stored = ApiKey.objects.get(pk=key.pk)
    assert token.startswith(f"ak_{stored.prefix}_")
    assert token not in stored.key_hash
    assert stored.key_hash != token
    assert len(stored.key_hash) == 64


def test_a_key_gets_429_past_its_rate_limit(api_client: APIClient) -> None:
    _, token = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=3)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    statuses = [api_client.get("/api/v1/auth/me").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api_client.get("/api/v1/auth/me")
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0


def test_a_key_gets_403_on_staff_endpoints(api_client: APIClient) -> None:
    _, token = api_key_create(name="svc", policy=None, actor=None)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api_client.get("/api/v1/api-keys/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_staff_without_the_role_get_403(api_client: APIClient) -> None:
    api_client.force_authenticate(UserFactory(roles=["reviewer"]))
    response = api_client.post("/api/v1/policies/", {"source": "id: x", "message": ""}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "This needs the 'policy_editor' role."


def test_an_admin_creates_a_key_and_sees_it_once(api_client: APIClient) -> None:
    api_client.force_authenticate(UserFactory(is_superuser=True))
    created = api_client.post("/api/v1/api-keys/", {"name": "chat-service", "rate_limit_per_minute": 60}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["key"].startswith(f"ak_{body['prefix']}_")
    listed = api_client.get("/api/v1/api-keys/").json()
    assert [k["name"] for k in listed] == ["chat-service"]
    assert "key" not in listed[0]


def test_an_admin_gets_field_errors_for_a_bad_key_request(api_client: APIClient) -> None:
    api_client.force_authenticate(UserFactory(is_superuser=True))
    response = api_client.post("/api/v1/api-keys/", {"rate_limit_per_minute": 0, "policy": "nope"}, format="json")
    assert response.status_code == 400
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"name", "rate_limit_per_minute", "policy"}
    assert ApiKey.objects.count() == 0

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from moderation_app.authentication import ApiKeyAuthentication
from moderation_app.keycache import key_cache_get, key_cache_put
from moderation_app.models import ApiKey
from moderation_app.selectors import api_key_get_by_token
from moderation_app.services import api_key_create, api_key_revoke
from policies_app.models import Policy
from policies_app.services import policy_ensure_default, policy_version_create, policy_version_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy() -> Policy:
    return policy_ensure_default()[0]


def _authenticate(token: str) -> ApiKey:
    """Authenticate a request that carries the token, as the API does."""
    request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}"))
    authenticated = ApiKeyAuthentication().authenticate(request)
    assert authenticated is not None
    return authenticated[1]


def test_a_key_read_once_authenticates_without_a_query(policy: Policy, django_assert_num_queries: Any) -> None:
    _, token = api_key_create(name="chat", policy=policy, actor=None)
    with django_assert_num_queries(2):  # the key with its policy, and the note of its first use
        _authenticate(token)
    with django_assert_num_queries(0):
        key = _authenticate(token)
    assert key.policy is not None
    assert key.policy.published_version == policy.published_version


def test_a_cached_key_still_needs_its_secret(policy: Policy) -> None:
    _, token = api_key_create(name="chat", policy=policy, actor=None)
    _authenticate(token)
    assert api_key_get_by_token(token=token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_the_cache_never_holds_a_webhook_secret(policy: Policy) -> None:
    key, token = api_key_create(name="hooked", policy=policy, actor=None, webhook_url="https://example.test/hook")
    assert key.webhook_secret
    _authenticate(token)
    cached = key_cache_get(prefix=key.prefix)
    assert cached is not None
    assert "webhook_secret" not in cached.__dict__


def test_a_revoked_key_is_refused_at_once_though_it_was_cached(policy: Policy) -> None:
    key, token = api_key_create(name="chat", policy=policy, actor=None)
    _authenticate(token)
    api_key_revoke(api_key=key, actor=None)
    assert api_key_get_by_token(token=token) is None


def test_a_cached_key_sees_its_policys_new_published_version_at_once(policy: Policy) -> None:
    _, token = api_key_create(name="chat", policy=policy, actor=None)
    _authenticate(token)
    assert policy.published_version is not None
    source = policy.published_version.source.replace("title:", "title: Revised", 1)
    version = policy_version_create(policy=policy, source=source, message="retitle", actor=None)
    policy_version_publish(policy=policy, version=version, actor=None, force=True, note="test")
    key = _authenticate(token)
    assert key.policy is not None
    assert key.policy.published_version == version


def test_a_key_noted_as_used_is_cached_with_that_note(policy: Policy, django_assert_num_queries: Any) -> None:
    key, token = api_key_create(name="chat", policy=policy, actor=None)
    key = _authenticate(token)
    key.last_used_at = timezone.now() - timedelta(minutes=5)
    key_cache_put(key=key)  # as the cache holds it a few minutes on
    with django_assert_num_queries(1):  # the note of its use
        _authenticate(token)
    with django_assert_num_queries(0):  # and not again on the next call
        _authenticate(token)
    cached = key_cache_get(prefix=key.prefix)
    assert cached is not None
    assert cached.last_used_at is not None
    assert timezone.now() - cached.last_used_at < timedelta(minutes=1)


@override_settings(API_KEY_CACHE_S=0)
def test_with_the_cache_off_every_call_reads_the_key(policy: Policy, django_assert_num_queries: Any) -> None:
    _, token = api_key_create(name="chat", policy=policy, actor=None)
    _authenticate(token)
    with django_assert_num_queries(1):
        _authenticate(token)

"""API-key authentication and the per-key rate limit share one round trip to Redis; a wrong secret
spends no real key's limit. Real Redis (and the file cache of a one-machine install)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from redis.connection import AbstractConnection
from rest_framework.test import APIClient

from moderation_app.authentication import rate_limit_subject
from moderation_app.models import Decision
from moderation_app.ratelimit import rate_window
from moderation_app.selectors import api_key_hash
from moderation_app.services import api_key_create
from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db
ENDPOINT = "/api/v1/auth/me"  # authenticated and throttled like every API-key call, and cheap


@pytest.fixture
def redis_sends(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every write of commands to any Redis connection (a pipeline is one write)."""
    sends: list[Any] = []
    original = AbstractConnection.send_packed_command

    def counting(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
        sends.append(command)
        original(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", counting)
    return sends


def _wrong_secret(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_a_call_with_a_cached_key_reads_it_and_counts_itself_in_one_round_trip(
    api_client: APIClient, redis_sends: list[Any]
) -> None:
    _, token = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=100)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(ENDPOINT).status_code == 200  # loads the key and caches it
    redis_sends.clear()
    assert api_client.get(ENDPOINT).status_code == 200
    assert len(redis_sends) == 1
    counter = rate_window(key=rate_limit_subject(key_hash=api_key_hash(token))).current_key
    assert cache.get(counter) == 2


def test_a_wrong_secret_spends_none_of_the_keys_limit_and_leaves_no_counter(api_client: APIClient) -> None:
    _, token = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=2)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(ENDPOINT).status_code == 200  # the key is cached from here on
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {_wrong_secret(token)}")
    assert [api_client.get(ENDPOINT).status_code for _ in range(4)] == [401] * 4
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert [api_client.get(ENDPOINT).status_code for _ in range(2)] == [200, 429]
    wrong = rate_window(key=rate_limit_subject(key_hash=api_key_hash(_wrong_secret(token))))
    assert cache.get(wrong.current_key) is None


def test_an_unknown_prefix_gets_401_and_leaves_no_counter(api_client: APIClient) -> None:
    token = "ak_nosuchkey_" + "x" * 40
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(ENDPOINT).status_code == 401
    assert cache.get(rate_window(key=rate_limit_subject(key_hash=api_key_hash(token))).current_key) is None


@pytest.mark.usefixtures("file_cache")
def test_the_file_cache_reads_the_key_and_counts_separately_with_the_same_limit(api_client: APIClient) -> None:
    _, token = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=3)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert [api_client.get(ENDPOINT).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_with_the_key_cache_off_the_request_is_still_counted_in_the_same_round_trip(
    api_client: APIClient, settings: Any
) -> None:
    settings.API_KEY_CACHE_S = 0
    _, token = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=2)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert [api_client.get(ENDPOINT).status_code for _ in range(3)] == [200, 200, 429]


def test_a_cache_entry_that_cannot_be_read_is_a_miss(api_client: APIClient) -> None:
    from config.redis import shared_redis

    key, token = api_key_create(name="svc", policy=None, actor=None)
    client = shared_redis()
    assert client is not None
    client.set(cache.make_key(f"apikey:{key.prefix}"), b"\x80not a pickle")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(ENDPOINT).status_code == 200  # read from the database instead


@pytest.fixture
def redis_down(settings: Any) -> Iterator[None]:
    """The cache's Redis down: its URL names a port where nothing listens."""
    from config import redis as shared

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    for chosen in (shared.shared_redis, shared.shared_redis_blocking):
        chosen.cache_clear()
    shared._warned_at.clear()
    yield
    for chosen in (shared.shared_redis, shared.shared_redis_blocking):
        chosen.cache_clear()


def test_while_redis_is_down_keys_come_from_the_database_and_calls_are_not_limited(
    api_client: APIClient, redis_down: None, caplog: pytest.LogCaptureFixture
) -> None:
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="svc", policy=policy, actor=None, rate_limit_per_minute=1)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert [api_client.get(ENDPOINT).status_code for _ in range(3)] == [200, 200, 200]  # a 500 each before
    response = api_client.post("/api/v1/moderate", {"input": "hello", "async": True}, format="json")
    assert response.status_code == 202, response.json()
    assert Decision.objects.filter(pk=response.json()["id"], status="pending").exists()  # recorded and queued
    assert caplog.text.count("Redis cannot count requests") == 1  # once a minute, not once a call
    assert "rate limits are not applied" in caplog.text

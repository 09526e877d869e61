"""The service-facing edges, found by trying: the per-key rate limit and the OpenAI-compatible
endpoint. Each test failed on the code before its fix; its docstring says how."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from moderation_app.models import Decision
from moderation_app.ratelimit import WINDOW_S, rate_limit_hit
from moderation_app.services import api_key_create
from policies_app.services import policy_ensure_default

MINUTE_START = 1_800_000_000 // WINDOW_S * WINDOW_S  # a fixed clock: the start of some minute


def _key_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# --- the rate limit -------------------------------------------------------------------------------


@pytest.mark.usefixtures("file_cache")
def test_the_default_installs_file_cache_counts_concurrent_calls_exactly() -> None:
    """The default install (no CACHE_URL: the file cache, gunicorn 2 processes x 8 threads) counts with
    the cache API's `incr`, which on the file cache is a get and a set: concurrent calls overwrite
    each other's counts, so the limit lets through far more than it says (60 of 60, limit 25)."""
    key = f"test:{uuid.uuid4().hex}"
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: rate_limit_hit(key=key, limit=25, now=MINUTE_START + 5), range(60)))
    assert waits.count(0) == 25
    assert cache.get(f"ratelimit:{key}:{MINUTE_START // WINDOW_S}") == 25


@pytest.mark.django_db
def test_a_call_refused_with_403_does_not_spend_the_keys_rate_limit() -> None:
    """Where the cache is Redis, authentication counts the call before permissions are checked; a 403
    stops DRF before the throttle decides, so the count is never taken back (nor checked): a service
    that touches a staff endpoint locks itself out of moderation. On the file cache the same 403s
    cost nothing."""
    _, token = api_key_create(name="svc", policy=None, actor=None, rate_limit_per_minute=2)
    client = _key_client(token)
    assert [client.get("/api/v1/review/stats/").status_code for _ in range(2)] == [403, 403]
    assert client.get("/api/v1/auth/me").status_code == 200  # was 429


@pytest.mark.django_db
def test_a_batch_of_n_items_spends_n_of_the_keys_rate_limit() -> None:
    """The limit is there "to share the guard fairly" (README), but a batch of up to
    MODERATION_MAX_BATCH (32) items counts as one call: a key allowed 600 calls a minute can have the
    guard judge 19,200 items a minute."""
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="svc", policy=policy, actor=None, rate_limit_per_minute=3)
    client = _key_client(token)
    batch = {"items": [{"input": f"text {i}"} for i in range(3)], "async": True}
    assert client.post("/api/v1/moderate/batch", batch, format="json").status_code == 202
    response = client.post("/api/v1/moderate", {"input": "one more", "async": True}, format="json")
    assert response.status_code == 429  # 202: the three items counted as one


@pytest.mark.django_db
def test_an_openai_request_with_n_inputs_spends_n_of_the_keys_rate_limit() -> None:
    """The same for `/v1/moderations` with a list `input` (no guard here: the call ends in 503, its
    three decisions recorded and queued all the same)."""
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="svc", policy=policy, actor=None, rate_limit_per_minute=3)
    client = _key_client(token)
    client.post("/v1/moderations", {"input": ["a", "b", "c"]}, format="json")
    assert Decision.objects.count() == 3
    response = client.post("/api/v1/moderate", {"input": "one more", "async": True}, format="json")
    assert response.status_code == 429  # 202: the three inputs counted as one


# --- the OpenAI-compatible endpoint ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_openai_model_that_names_no_policy_is_404_not_judged_under_the_keys_policy() -> None:
    """`model` is "a policy slug" (the serializer's help); a slug that names no policy (a typo,
    a deleted policy) is silently replaced by the key's own policy, and the answer's `model` is the
    guard's name, so the caller cannot tell which policy judged its content."""
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="svc", policy=policy, actor=None)
    response = _key_client(token).post("/v1/moderations", {"input": "x", "model": "core-safty"}, format="json")
    assert response.status_code == 404, response.json()  # was judged under core-safety
    assert Decision.objects.count() == 0


@pytest.fixture
def _allow_sync_db() -> None:
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the openai client may run an event loop here


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_allow_sync_db")
def test_an_openai_clients_retries_of_a_503_record_one_decision_per_call(live_server: Any) -> None:
    """The official client retries a 5xx twice by default (sleeping Retry-After: 30 s each for
    guard_unavailable) and sends no idempotency key, so one `moderations.create` during a guard
    outage records and queues three decisions, and blocks for over a minute before it raises."""
    import openai
    from openai import OpenAI

    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="svc", policy=policy, actor=None)
    client = OpenAI(api_key=token, base_url=f"{live_server.url}/v1")  # the default max_retries
    client._sleep_for_retry = lambda *args, **kwargs: None  # skip the 2 x 30 s sleeps
    with pytest.raises(openai.InternalServerError, match="no guard worker"):
        client.moderations.create(input="hello")
    assert Decision.objects.count() == 1  # 3 now


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("_allow_sync_db")
def test_an_openai_client_sees_which_parameter_a_400_is_about(live_server: Any) -> None:
    """OpenAI's error object carries `param` (and `type`); ours puts the field in a top-level
    `errors` list, which the client drops (it keeps only `body["error"]`): `exc.param` is None."""
    import openai
    from openai import OpenAI

    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="svc", policy=policy, actor=None)
    client = OpenAI(api_key=token, base_url=f"{live_server.url}/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError) as raised:
        client.moderations.create(input=[])
    assert raised.value.code == "invalid"
    assert raised.value.param == "input"

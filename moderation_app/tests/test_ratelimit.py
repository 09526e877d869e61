from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache

from config.redis import shared_redis
from moderation_app.ratelimit import COUNTER_TTL_S, WINDOW_S, rate_limit_hit

MINUTE_START = 1_800_000_000 // WINDOW_S * WINDOW_S  # a fixed clock: the start of some minute


def _key() -> str:
    return f"test:{uuid.uuid4().hex}"


def test_it_allows_the_limit_in_a_minute_then_says_how_long_to_wait() -> None:
    key = _key()
    waits = [rate_limit_hit(key=key, limit=3, now=MINUTE_START + 10 + i) for i in range(4)]
    assert waits[:3] == [0, 0, 0]
    # Refused at second 13: the rest of this minute, then until the full minute has slid past.
    assert waits[3] == pytest.approx(WINDOW_S - 13)


def test_the_previous_minute_weighs_in_by_how_much_of_it_is_still_in_the_window() -> None:
    key = _key()
    for i in range(4):
        assert rate_limit_hit(key=key, limit=4, now=MINUTE_START + 50 + i / 10) == 0
    # Half way into the next minute, the four count as 4 * 0.5 = 2: two more fit, then none.
    halfway = [rate_limit_hit(key=key, limit=4, now=MINUTE_START + WINDOW_S + 30) for _ in range(3)]
    assert halfway[:2] == [0, 0]
    assert halfway[2] > 0
    # At the end of the minute after, that minute's two barely weigh: the limit is there again.
    later = [rate_limit_hit(key=key, limit=4, now=MINUTE_START + 2 * WINDOW_S + 59) for _ in range(5)]
    assert later[:4] == [0, 0, 0, 0]
    assert later[4] > 0


def test_a_refused_request_is_not_counted() -> None:
    key = _key()
    assert rate_limit_hit(key=key, limit=1, now=MINUTE_START + 1) == 0
    for _ in range(5):
        assert rate_limit_hit(key=key, limit=1, now=MINUTE_START + 2) > 0
    assert cache.get(f"ratelimit:{key}:{MINUTE_START // WINDOW_S}") == 1


def test_requests_at_the_same_time_are_each_counted() -> None:
    key = _key()
    with ThreadPoolExecutor(8) as pool:
        waits = list(pool.map(lambda _: rate_limit_hit(key=key, limit=25, now=MINUTE_START + 5), range(40)))
    assert waits.count(0) == 25
    assert cache.get(f"ratelimit:{key}:{MINUTE_START // WINDOW_S}") == 25


@pytest.mark.usefixtures("file_cache")
def test_a_one_machine_install_counts_in_its_file_cache() -> None:
    assert shared_redis() is None
    key = _key()
    waits = [rate_limit_hit(key=key, limit=2, now=MINUTE_START + 1) for _ in range(3)]
    assert waits[:2] == [0, 0]
    assert waits[2] > 0
    assert cache.get(f"ratelimit:{key}:{MINUTE_START // WINDOW_S}") == 2


def test_on_redis_it_counts_in_one_round_trip_under_the_cache_api_s_keys() -> None:
    key, client = _key(), shared_redis()
    assert client is not None
    assert rate_limit_hit(key=key, limit=5, now=MINUTE_START + 1) == 0
    assert rate_limit_hit(key=key, limit=5, now=MINUTE_START + 2) == 0
    counter = f"ratelimit:{key}:{MINUTE_START // WINDOW_S}"
    assert cache.get(counter) == 2
    assert 0 < client.ttl(cache.make_key(counter)) <= COUNTER_TTL_S  # it expires after the next window

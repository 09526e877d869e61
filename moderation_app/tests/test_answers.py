from __future__ import annotations

import threading
import time
import uuid

import pytest

from config.redis import shared_redis, shared_redis_blocking
from moderation_app.answers import (
    ANSWER_TTL_S,
    AnswerListUnavailable,
    decision_answer_key,
    decision_answer_pop,
    decision_answer_push,
)
from moderation_app.tests.factories import judged_decision
from training_worker.tasks.guard import moderate_decision


def _key() -> str:
    key = decision_answer_key(decision_id=uuid.uuid4())
    assert key is not None  # the tests' cache is Redis
    return key


def test_a_pushed_answer_is_popped_as_it_was_pushed_and_expires_unpopped() -> None:
    key, answer = _key(), {"id": "d1", "verdict": "safe", "score": 0.125, "categories": [], "review": None}
    decision_answer_push(key=key, answer=answer)
    client = shared_redis()
    assert client is not None
    assert 0 < client.ttl(key) <= ANSWER_TTL_S
    assert decision_answer_pop(key=key, timeout_s=1.0) == answer
    assert not client.exists(key)


def test_a_wait_with_no_answer_ends_with_none_after_its_timeout() -> None:
    started = time.monotonic()
    assert decision_answer_pop(key=_key(), timeout_s=0.2) is None
    assert time.monotonic() - started >= 0.15


def test_a_wait_longer_than_a_redis_reply_usually_takes_still_gets_its_answer(caplog: pytest.LogCaptureFixture) -> None:
    # redis-py gives up on a reply after 5 s by default; a guard may take longer than that.
    # The blocking client is made once per process from GUARD_TIMEOUT_S: an earlier test that lowered
    # it must not choose this test's socket timeout.
    shared_redis_blocking.cache_clear()
    key, answer = _key(), {"id": "d2", "verdict": "unsafe", "score": 0.75, "categories": ["S1"], "review": None}
    pusher = threading.Timer(5.5, lambda: decision_answer_push(key=key, answer=answer))
    pusher.start()
    try:
        assert decision_answer_pop(key=key, timeout_s=10.0) == answer
    finally:
        pusher.join()
    assert "could not wait" not in caplog.text


@pytest.mark.usefixtures("file_cache")
def test_a_one_machine_install_has_no_list_to_answer_on() -> None:
    assert decision_answer_key(decision_id=uuid.uuid4()) is None
    with pytest.raises(AnswerListUnavailable):  # at once: nobody could answer
        decision_answer_pop(key="arbiter:answer:x", timeout_s=5.0)


@pytest.mark.django_db
def test_the_guard_task_answers_on_the_list_with_what_it_returns() -> None:
    decision = judged_decision(verdict="unsafe", score=0.9)  # done: the task answers without a model
    key = _key()
    returned = moderate_decision.run(str(decision.pk), answer=True, answer_to=key)
    assert isinstance(returned, dict)
    assert returned["id"] == str(decision.pk)
    assert decision_answer_pop(key=key, timeout_s=1.0) == returned

from __future__ import annotations

from typing import Any

import pytest
from celery.signals import before_task_publish
from kombu import Queue
from kombu.utils.json import dumps, loads

from config.celery import app
from moderation_app.models import Decision
from moderation_app.snapshot import SNAPSHOT_MAX_CHARS, decision_from_snapshot, decision_snapshot
from moderation_app.tests.factories import recorded_decision

pytestmark = pytest.mark.django_db


def _stored(decision: Decision) -> dict[str, object]:
    return {f.attname: f.value_from_object(decision) for f in Decision._meta.concrete_fields}


def test_a_snapshot_gives_back_the_stored_row() -> None:
    decision = recorded_decision(text="hello")
    snapshot = decision_snapshot(decision=decision)
    assert snapshot is not None
    carried = decision_from_snapshot(snapshot=snapshot)
    assert _stored(carried) == _stored(Decision.objects.get(pk=decision.pk))
    assert carried.created_at.microsecond == decision.created_at.microsecond
    assert not carried._state.adding


def test_a_callers_metadata_survives_the_broker_message_as_written() -> None:
    decision = recorded_decision(text="hello")
    # The broker's JSON decoder turns such dicts into objects; inside the snapshot string it cannot.
    metadata = {"__type__": "datetime", "__value__": "not a date", "nested": {"__type__": "uuid"}}
    Decision.objects.filter(pk=decision.pk).update(metadata=metadata)
    decision.refresh_from_db()
    message = loads(dumps({"snapshot": decision_snapshot(decision=decision)}))
    assert decision_from_snapshot(snapshot=message["snapshot"]).metadata == metadata


def test_a_decision_too_large_to_carry_has_no_snapshot() -> None:
    decision = recorded_decision(text="x" * SNAPSHOT_MAX_CHARS)
    assert decision_snapshot(decision=decision) is None


def test_the_queued_task_carries_the_snapshot_and_its_headers_none_of_the_content(
    django_capture_on_commit_callbacks: Any,
) -> None:
    published: list[dict[str, Any]] = []

    def capture(
        sender: Any = None, body: Any = None, headers: Any = None, routing_key: str = "", **kwargs: Any
    ) -> None:
        published.append({"body": body, "headers": headers, "queue": routing_key})

    before_task_publish.connect(capture)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            decision = recorded_decision(text="a private message")
    finally:
        before_task_publish.disconnect(capture)
        _purge([message["queue"] for message in published])  # no worker here takes it; a later test's must not
    (message,) = published
    _, kwargs, _ = message["body"]
    assert decision_from_snapshot(snapshot=kwargs["snapshot"]).pk == decision.pk
    assert "a private message" not in repr(message["headers"])


def _purge(queues: list[str]) -> None:
    with app.connection_for_write() as connection:
        for queue in queues:
            Queue(queue).bind(connection.default_channel).purge()

"""The review queue and labelled cases, worked as a T&S team would: each test failed on the code
before its fix (the comments say how)."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from moderation_app.models import Case, Decision, ReviewItem
from moderation_app.services import review_claim_next, review_label
from moderation_app.tests.factories import UserFactory, judged_decision
from training_worker.training.dataset import training_dataset_build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _one_reviewer_per_item(settings: Any) -> None:
    settings.REVIEW_SECOND_OPINION_RATE = 0.0
    settings.REVIEW_SAMPLE_RATE = 0.0


def _flagged(text: str) -> Decision:
    return judged_decision(verdict="unsafe", score=0.9, text=text)


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _export(client: APIClient) -> list[dict[str, Any]]:
    response = client.get("/api/v1/cases/export/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return [json.loads(line) for line in body.splitlines()]


# --- second opinions --------------------------------------------------------------------------------


def test_a_second_reviewer_cannot_read_the_first_label_through_the_decision_detail() -> None:
    decision = _flagged("is this a threat?")
    ReviewItem.objects.filter(decision=decision).update(labels_needed=2)
    first, second = UserFactory(roles=["reviewer"]), UserFactory(roles=["reviewer"])
    item = review_claim_next(reviewer=first)
    assert item is not None
    review_label(item=item, reviewer=first, verdict="safe", categories=[], rationale="just a joke, first says")

    # The second reviewer claims the item; its payload carries the decision id, and the decision
    # detail (any staff role may read it) shows the first reviewer's verdict and rationale.
    second_client = _client(second)
    claimed = second_client.post("/api/v1/review/next/").json()["item"]
    assert claimed["decision"]["id"] == str(decision.pk)
    detail = second_client.get(f"/api/v1/decisions/{decision.pk}/").json()
    history = detail.get("review_history") or {}
    leaked = [label for label in history.get("labels", []) if label["rationale"] == "just a joke, first says"]
    assert leaked == [], "the second opinion is not independent: the first label is one GET away"


# --- claims -----------------------------------------------------------------------------------------


def test_a_label_after_the_claim_expired_is_accepted_when_nobody_else_took_the_item(settings: Any) -> None:
    _flagged("slow to judge")
    typist = UserFactory(roles=["reviewer"])
    client = _client(typist)
    item = client.post("/api/v1/review/next/").json()["item"]
    # The reviewer spent longer than REVIEW_CLAIM_MINUTES writing the rationale; nobody else claimed it.
    ReviewItem.objects.filter(pk=item["id"]).update(claim_expires_at=timezone.now() - timedelta(minutes=1))
    # Meanwhile a more urgent item arrived, so "claim it again" (POST next) would hand out that one
    # instead, and the page clears the draft on every claim: the rationale is lost.
    judged_decision(verdict=None, score=0.5, text="malformed, more urgent")
    response = client.post(
        f"/api/v1/review/items/{item['id']}/label/",
        {"verdict": "unsafe", "categories": ["S1"], "rationale": "ten minutes of careful reading"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert Case.objects.get().rationale == "ten minutes of careful reading"


def test_next_gives_back_the_reviewers_own_live_claim_instead_of_locking_another_item() -> None:
    for n in range(3):
        _flagged(f"flagged {n}")
    rita = UserFactory(roles=["reviewer"])
    client = _client(rita)
    held = client.post("/api/v1/review/next/").json()["item"]
    # A page reload or a double press of "n": rita asks again while her claim is still live.
    again = client.post("/api/v1/review/next/").json()["item"]
    assert again["id"] == held["id"]
    assert ReviewItem.objects.filter(status=ReviewItem.Status.CLAIMED).count() == 1


def test_stats_count_an_item_whose_claim_expired_as_open() -> None:
    _flagged("abandoned")
    gone = UserFactory(roles=["reviewer"])
    item = review_claim_next(reviewer=gone)
    assert item is not None
    ReviewItem.objects.filter(pk=item.pk).update(claim_expires_at=timezone.now() - timedelta(hours=3))
    stats = _client(UserFactory(roles=["reviewer"])).get("/api/v1/review/stats/").json()
    # Nobody works on it and the next claim takes it, yet the lead sees an empty queue.
    assert (stats["open"], stats["claimed"]) == (1, 0)
    assert stats["oldest_open_age_s"] is not None
    assert stats["by_reason"] == {"flagged": 1}


def test_a_lone_reviewer_who_skipped_every_open_item_is_told_why_next_is_empty(settings: Any) -> None:
    settings.REVIEW_SKIP_MINUTES = 60
    for n in range(2):
        _flagged(f"hard call {n}")
    alone = _client(UserFactory(roles=["reviewer"]))
    for _ in range(2):
        item = alone.post("/api/v1/review/next/").json()["item"]
        assert alone.post(f"/api/v1/review/items/{item['id']}/release/").status_code == 200
    response = alone.post("/api/v1/review/next/")
    assert ReviewItem.objects.filter(status=ReviewItem.Status.OPEN).count() == 2
    # Two flagged items are open, no other reviewer exists, and the page says "The queue is empty".
    told = response.status_code == 200 or any("skip" in name.lower() for name in response.headers)
    assert told, (
        f"{response.status_code} with headers {sorted(response.headers)}: nothing says 2 open items were skipped"
    )


# --- cases ------------------------------------------------------------------------------------------


def test_re_importing_an_export_keeps_each_cases_external_id_and_metadata() -> None:
    staff = _client(UserFactory(roles=["ml_engineer"]))
    upload = io.BytesIO(
        json.dumps({"text": "how do I pick a lock", "label": "safe", "id": "jbb-7", "lang": "en"}).encode()
    )
    upload.name = "cases.jsonl"
    assert staff.post("/api/v1/cases/import/", {"file": upload}, format="multipart").status_code == 201
    exported = _export(staff)

    Case.objects.all().delete()  # e.g. loading the export into a fresh staging instance
    again = io.BytesIO("\n".join(json.dumps(line) for line in exported).encode())
    again.name = "cases.jsonl"
    assert staff.post("/api/v1/cases/import/", {"file": again}, format="multipart").status_code == 201
    case = Case.objects.get()
    assert case.external_id == "jbb-7"  # not the old primary key from the export's "id"
    assert case.metadata == {"lang": "en"}  # not source/split/policy/created_at and a nested "metadata"


def test_the_export_keeps_the_guard_verdict_and_review_reason_of_a_review_case() -> None:
    _flagged("borderline insult")
    reviewer = UserFactory(roles=["reviewer"])
    item = review_claim_next(reviewer=reviewer)
    assert item is not None
    review_label(item=item, reviewer=reviewer, verdict="safe", categories=[], rationale="banter")
    (line,) = _export(_client(UserFactory(roles=["ml_engineer"])))
    # A false positive, but the export cannot say so: the guard's verdict and the reason are dropped.
    assert line.get("guard_verdict") == "unsafe"
    assert line.get("review_reason") == "flagged"


def test_training_does_not_read_the_same_content_with_both_labels() -> None:
    for _ in range(2):
        _flagged("the very same words")
    reviewer = UserFactory(roles=["reviewer"])
    for verdict, categories in (("safe", []), ("unsafe", ["S1"])):
        item = review_claim_next(reviewer=reviewer)
        assert item is not None
        review_label(item=item, reviewer=reviewer, verdict=verdict, categories=categories, rationale="")
    assert Case.objects.count() == 2
    dataset = training_dataset_build(since=None, replay_size=0)
    labels = {example.label for example in [*dataset.train, *dataset.eval]}
    assert len(labels) == 1, "one prompt is trained (or evaluated) as both safe and unsafe"

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from moderation_app.models import ReviewItem, ReviewLabel
from moderation_app.tests.factories import UserFactory, judged_decision


@pytest.fixture(autouse=True)
def _one_reviewer_per_item(settings: Any) -> None:
    settings.REVIEW_SECOND_OPINION_RATE = 0.0
    settings.REVIEW_SAMPLE_RATE = 0.0


def _item(verdict: str | None, score: float, *, text: str, labels_needed: int = 1) -> ReviewItem:
    item = judged_decision(verdict=verdict, score=score, text=text).review_item
    ReviewItem.objects.filter(pk=item.pk).update(labels_needed=labels_needed)
    return item


def _label(client: APIClient, reviewer: Any, *, verdict: str, categories: list[str], took_s: float = 0) -> int:
    """Claim the next item as `reviewer` and label it, as if the claim had been taken `took_s` ago."""
    client.force_authenticate(reviewer)
    item_id = int(client.post("/api/v1/review/next/").json()["item"]["id"])
    ReviewItem.objects.filter(pk=item_id).update(claimed_at=timezone.now() - timedelta(seconds=took_s))
    response = client.post(
        f"/api/v1/review/items/{item_id}/label/", {"verdict": verdict, "categories": categories}, format="json"
    )
    assert response.status_code == 201, response.json()
    return item_id


def _by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["reviewer"]["username"]: row for row in rows}


@pytest.mark.django_db
def test_each_reviewer_gets_agreement_with_the_guard_and_peers_and_how_escalations_went(api_client: APIClient) -> None:
    a, b, c = (UserFactory(username=name, roles=["reviewer"]) for name in ("ana", "ben", "cleo"))
    admin = UserFactory(username="lead", is_superuser=True)
    # Disputed: ana and ben disagree, cleo settles it ana's way.
    _item("unsafe", 0.9, text="disputed", labels_needed=2)
    _label(api_client, a, verdict="unsafe", categories=["S1"], took_s=30)
    _label(api_client, b, verdict="safe", categories=[], took_s=90)
    _label(api_client, c, verdict="unsafe", categories=["S1"], took_s=60)
    # Agreed: ana and ben agree with each other and with the guard.
    _item("unsafe", 0.9, text="agreed", labels_needed=2)
    _label(api_client, a, verdict="unsafe", categories=["S1"], took_s=30)
    _label(api_client, b, verdict="unsafe", categories=["S1"], took_s=30)
    # The guard said safe (in the uncertainty band); ana overturns it.
    _item("safe", 0.4, text="borderline")
    _label(api_client, a, verdict="unsafe", categories=["S2"], took_s=30)
    # A malformed output: no guard verdict to compare with.
    _item(None, 0.5, text="malformed")
    _label(api_client, b, verdict="safe", categories=[], took_s=30)

    api_client.force_authenticate(admin)
    response = api_client.get("/api/v1/review/stats/reviewers/")
    assert response.status_code == 200
    rows = response.json()
    assert [row["reviewer"]["username"] for row in rows] == ["ana", "ben", "cleo"]  # busiest first
    ana, ben, cleo = (_by_name(rows)[name] for name in ("ana", "ben", "cleo"))
    assert (ana["labels"], ana["unsafe_rate"]) == (3, 1.0)
    assert ana["guard"] == {"compared": 3, "agreed": 2, "agreement_rate": pytest.approx(2 / 3)}
    assert ana["second_opinions"] == {"paired": 2, "agreed": 1, "agreement_rate": 0.5}
    assert ana["escalations"] == {"settled": 0, "upheld": 1, "overruled": 0}
    assert ana["mean_handle_s"] == pytest.approx(30, abs=5)

    assert (ben["labels"], ben["unsafe_rate"]) == (3, pytest.approx(1 / 3))
    assert ben["guard"] == {"compared": 2, "agreed": 1, "agreement_rate": 0.5}
    assert ben["second_opinions"] == {"paired": 2, "agreed": 1, "agreement_rate": 0.5}
    assert ben["escalations"] == {"settled": 0, "upheld": 0, "overruled": 1}
    assert ben["mean_handle_s"] == pytest.approx(50, abs=5)

    assert cleo["second_opinions"] == {"paired": 0, "agreed": 0, "agreement_rate": None}
    assert cleo["escalations"] == {"settled": 1, "upheld": 0, "overruled": 0}
    assert cleo["guard"]["agreement_rate"] == 1.0


@pytest.mark.django_db
def test_an_escalation_settled_with_other_categories_overrules_both_earlier_labels(api_client: APIClient) -> None:
    a, b, c = (UserFactory(roles=["reviewer"]) for _ in range(3))
    _item("unsafe", 0.9, text="which category", labels_needed=2)
    _label(api_client, a, verdict="unsafe", categories=["S1"])
    _label(api_client, b, verdict="unsafe", categories=["S2"])
    api_client.force_authenticate(UserFactory(is_superuser=True))
    waiting = _by_name(api_client.get("/api/v1/review/stats/reviewers/").json())
    assert waiting[a.username]["escalations"] == {"settled": 0, "upheld": 0, "overruled": 0}  # not settled yet
    assert waiting[a.username]["second_opinions"]["agreed"] == 0

    _label(api_client, c, verdict="unsafe", categories=["S1", "S2"])
    api_client.force_authenticate(UserFactory(is_superuser=True))
    rows = _by_name(api_client.get("/api/v1/review/stats/reviewers/").json())
    assert rows[a.username]["escalations"]["overruled"] == 1
    assert rows[b.username]["escalations"]["overruled"] == 1


@pytest.mark.django_db
def test_a_reviewer_sees_only_their_own_figures(api_client: APIClient) -> None:
    a, b = UserFactory(roles=["reviewer"]), UserFactory(roles=["reviewer"])
    _item("unsafe", 0.9, text="one")
    _label(api_client, a, verdict="unsafe", categories=["S1"])
    _item("unsafe", 0.9, text="two")
    _label(api_client, b, verdict="safe", categories=[])

    api_client.force_authenticate(b)
    rows = api_client.get("/api/v1/review/stats/reviewers/").json()
    assert [(row["reviewer"]["username"], row["labels"]) for row in rows] == [(b.username, 1)]


@pytest.mark.django_db
def test_reviewer_figures_since_leave_out_older_labels(api_client: APIClient) -> None:
    a = UserFactory(roles=["reviewer"])
    _item("unsafe", 0.9, text="old")
    _label(api_client, a, verdict="unsafe", categories=["S1"])
    ReviewLabel.objects.update(created_at=timezone.now() - timedelta(days=40))
    _item("unsafe", 0.9, text="new")
    _label(api_client, a, verdict="safe", categories=[])

    since = (timezone.now() - timedelta(days=30)).isoformat()
    rows = api_client.get("/api/v1/review/stats/reviewers/", {"since": since}).json()
    assert [(row["labels"], row["unsafe_rate"]) for row in rows] == [(1, 0.0)]
    assert [row["labels"] for row in api_client.get("/api/v1/review/stats/reviewers/").json()] == [2]


@pytest.mark.django_db
def test_reviewer_figures_need_the_reviewer_role_and_a_real_since(api_client: APIClient) -> None:
    api_client.force_authenticate(UserFactory(roles=["policy_editor"]))
    assert api_client.get("/api/v1/review/stats/reviewers/").status_code == 403
    api_client.force_authenticate(UserFactory(roles=["reviewer"]))
    response = api_client.get("/api/v1/review/stats/reviewers/", {"since": "yesterday-ish"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "since"


@pytest.mark.django_db
def test_a_label_keeps_when_its_claim_was_taken_and_a_skip_forgets_it(api_client: APIClient) -> None:
    reviewer = UserFactory(roles=["reviewer"])
    _item("unsafe", 0.9, text="skipped then labelled")
    api_client.force_authenticate(reviewer)
    item_id = api_client.post("/api/v1/review/next/").json()["item"]["id"]
    assert ReviewItem.objects.get(pk=item_id).claimed_at is not None
    assert api_client.post(f"/api/v1/review/items/{item_id}/release/").status_code == 200
    assert ReviewItem.objects.get(pk=item_id).claimed_at is None

    other = UserFactory(roles=["reviewer"])
    api_client.force_authenticate(other)
    before = timezone.now()
    assert api_client.post("/api/v1/review/next/").json()["item"]["id"] == item_id
    api_client.post(f"/api/v1/review/items/{item_id}/label/", {"verdict": "safe", "categories": []}, format="json")
    label = ReviewLabel.objects.get()
    assert label.claimed_at is not None
    assert before <= label.claimed_at <= label.created_at
    assert ReviewItem.objects.get(pk=item_id).claimed_at is None

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone
from rest_framework.test import APIClient

from moderation_app.models import Case, Decision, ReviewItem, ReviewLabel, ReviewSkip
from moderation_app.services import (
    review_claim_next,
    review_item_build,
)
from moderation_app.services.review import ESCALATED_PRIORITY as PRIORITY_ESCALATED
from moderation_app.services.review import PRIORITY
from moderation_app.tests.factories import UserFactory, judged_decision
from training_worker.models import ModelVersion
from training_worker.services import model_version_register


@pytest.fixture(autouse=True)
def _one_reviewer_per_item(settings: Any) -> None:
    settings.REVIEW_SECOND_OPINION_RATE = 0.0  # second opinions are random; tests that want one set it


def _decision(
    verdict: str | None, score: float, *, source: str = "api", text: str = "hello", model: ModelVersion | None = None
) -> Decision:
    return judged_decision(verdict=verdict, score=score, source=source, text=text, model_version=model)


def _label_next(reviewer: Any, verdict: str) -> None:
    from moderation_app.services import review_label

    claimed = review_claim_next(reviewer=reviewer)
    assert claimed is not None
    categories = ["S1"] if verdict == "unsafe" else []
    review_label(item=claimed, reviewer=reviewer, verdict=verdict, categories=categories, rationale="")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("verdict", "score", "reason", "priority"),
    [(None, 0.5, "malformed", 3), ("unsafe", 0.9, "flagged", 2), ("safe", 0.4, "uncertain", 1)],
)
def test_decisions_that_need_a_person_are_routed_with_a_reason(
    verdict: str | None, score: float, reason: str, priority: int
) -> None:
    item = _decision(verdict, score).review_item
    assert (item.reason, item.priority) == (reason, priority)


@pytest.mark.django_db(transaction=True)
def test_a_decision_is_not_completed_without_its_review_item(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fault injected where the review item is written: the database refuses the item's priority.
    monkeypatch.setitem(PRIORITY, ReviewItem.Reason.FLAGGED, -1)
    with pytest.raises(IntegrityError):
        _decision("unsafe", 0.9)
    decision = Decision.objects.get()
    assert decision.status == Decision.Status.PENDING  # the redelivered task judges it again
    assert decision.verdict == ""
    assert not ReviewItem.objects.exists()


@pytest.mark.django_db
def test_confident_safe_decisions_are_only_sampled(settings: Any) -> None:
    settings.REVIEW_SAMPLE_RATE = 0.0
    assert not ReviewItem.objects.filter(decision=_decision("safe", 0.05)).exists()
    decision = Decision.objects.get()
    assert review_item_build(decision=decision, rand=lambda: 0.0) is None
    settings.REVIEW_SAMPLE_RATE = 0.5
    item = review_item_build(decision=decision, rand=lambda: 0.1)
    assert item is not None
    assert item.reason == "sampled"


@pytest.mark.django_db
def test_a_sampled_safe_decision_is_completed_with_its_item(settings: Any) -> None:
    settings.REVIEW_SAMPLE_RATE = 1.0
    decision = _decision("safe", 0.05)
    item = ReviewItem.objects.get(decision=decision)
    assert (item.reason, item.priority, item.status, item.labels_needed) == ("sampled", 0, "open", 1)
    assert item.created_at is not None
    assert decision.review_item.pk == item.pk


@pytest.mark.django_db
def test_playground_runs_stay_out_of_the_queue() -> None:
    assert not ReviewItem.objects.filter(decision=_decision("unsafe", 0.9, source="playground")).exists()


@pytest.mark.django_db
def test_a_reviewer_claims_the_most_urgent_item_and_labels_it_into_a_case(api_client: APIClient) -> None:
    _decision("safe", 0.4, text="uncertain one")
    flagged = _decision("unsafe", 0.9, text="flagged one")
    api_client.force_authenticate(UserFactory(roles=["reviewer"]))
    body = api_client.post("/api/v1/review/next/").json()["item"]
    assert body["decision"]["id"] == str(flagged.id)
    assert body["reason"] == "flagged"
    assert body["decision"]["messages"] == [{"role": "user", "content": "flagged one"}]
    assert body["decision"]["raw_output"].startswith("<think>")
    assert [c["code"] for c in body["policy_categories"]][:2] == ["S1", "S2"]
    bad = api_client.post(
        f"/api/v1/review/items/{body['id']}/label/", {"verdict": "unsafe", "categories": ["S99"]}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "categories"
    label = api_client.post(
        f"/api/v1/review/items/{body['id']}/label/",
        {"verdict": "unsafe", "categories": ["S1"], "rationale": "asks for a weapon"},
        format="json",
    )
    assert label.status_code == 201
    case = Case.objects.get()
    assert (case.source, case.verdict, case.categories, case.rationale) == (
        "review",
        "unsafe",
        ["S1"],
        "asks for a weapon",
    )
    assert case.split in ("train", "eval")
    assert case.policy_version == flagged.policy_version
    assert api_client.get(f"/api/v1/decisions/{flagged.id}/").json()["review"] == {
        "status": "done",
        "reason": "flagged",
    }
    assert api_client.post("/api/v1/review/next/").json()["item"]["reason"] == "uncertain"


@pytest.mark.django_db
def test_a_second_opinion_item_goes_to_another_reviewer_and_feeds_agreement(api_client: APIClient) -> None:
    item = _decision("unsafe", 0.9).review_item
    ReviewItem.objects.filter(pk=item.pk).update(labels_needed=2)
    first, second = UserFactory(roles=["reviewer"]), UserFactory(roles=["reviewer"])
    for reviewer, verdict in ((first, "unsafe"), (second, "unsafe")):
        api_client.force_authenticate(reviewer)
        claimed = api_client.post("/api/v1/review/next/").json()["item"]
        categories = ["S1"] if verdict == "unsafe" else []
        response = api_client.post(
            f"/api/v1/review/items/{claimed['id']}/label/",
            {"verdict": verdict, "categories": categories},
            format="json",
        )
        assert response.status_code == 201
    api_client.force_authenticate(first)
    assert api_client.post("/api/v1/review/next/").status_code == 204
    stats = api_client.get("/api/v1/review/stats/").json()
    assert stats["done"] == 1
    assert stats["labels_last_hour"] == 2
    assert stats["agreement"]["pairs"] == 1
    assert Case.objects.count() == 1


@pytest.mark.django_db
def test_an_expired_claim_goes_to_the_next_reviewer(api_client: APIClient) -> None:
    _decision("unsafe", 0.9)
    slow, quick = UserFactory(roles=["reviewer"]), UserFactory(roles=["reviewer"])
    item = review_claim_next(reviewer=slow)
    assert item is not None
    assert review_claim_next(reviewer=quick) is None
    ReviewItem.objects.filter(pk=item.pk).update(claim_expires_at=timezone.now() - timedelta(seconds=1))
    again = review_claim_next(reviewer=quick)
    assert again is not None
    assert again.pk == item.pk
    api_client.force_authenticate(slow)
    late = api_client.post(f"/api/v1/review/items/{item.pk}/label/", {"verdict": "safe"}, format="json")
    assert late.status_code == 409


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_claiming_at_once_get_different_items() -> None:
    for i in range(2):
        _decision("unsafe", 0.9, text=f"item {i}")
    reviewers = [UserFactory(roles=["reviewer"]) for _ in range(2)]
    barrier = threading.Barrier(2)
    claimed: list[int] = []

    def claim(reviewer: Any) -> None:
        barrier.wait()
        item = review_claim_next(reviewer=reviewer)
        if item is not None:
            claimed.append(item.pk)
        connection.close()

    threads = [threading.Thread(target=claim, args=(r,)) for r in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 2
    assert len(set(claimed)) == 2


@pytest.mark.django_db
def test_the_queue_needs_the_reviewer_role(api_client: APIClient) -> None:
    api_client.force_authenticate(UserFactory(roles=["ml_engineer"]))
    assert api_client.post("/api/v1/review/next/").status_code == 403
    assert api_client.get("/api/v1/review/stats/").status_code == 200


@pytest.mark.django_db
def test_agreement_is_kappa_over_the_first_two_verdicts_of_each_double_labelled_item(api_client: APIClient) -> None:
    from moderation_app.services import review_label

    first, second = UserFactory(roles=["reviewer"]), UserFactory(roles=["reviewer"])
    pairs = [("safe", "safe"), ("unsafe", "unsafe"), ("safe", "unsafe"), ("safe", "safe")]
    for n, verdicts in enumerate(pairs):
        item = _decision("unsafe", 0.9, text=f"item {n}").review_item
        ReviewItem.objects.filter(pk=item.pk).update(labels_needed=2)
        for reviewer, verdict in zip((first, second), verdicts, strict=True):
            claimed = review_claim_next(reviewer=reviewer)
            assert claimed is not None
            categories = ["S1"] if verdict == "unsafe" else []
            review_label(item=claimed, reviewer=reviewer, verdict=verdict, categories=categories, rationale="")
    single = _decision("unsafe", 0.9, text="one reviewer").review_item
    claimed = review_claim_next(reviewer=first)
    assert claimed is not None
    assert claimed.pk == single.pk
    review_label(item=claimed, reviewer=first, verdict="unsafe", categories=["S1"], rationale="")
    half = _decision("unsafe", 0.9, text="waiting for a second").review_item
    ReviewItem.objects.filter(pk=half.pk).update(labels_needed=2)
    claimed = review_claim_next(reviewer=first)
    assert claimed is not None
    review_label(item=claimed, reviewer=first, verdict="safe", categories=[], rationale="")

    api_client.force_authenticate(first)
    agreement = api_client.get("/api/v1/review/stats/").json()["agreement"]
    assert agreement == {"pairs": 4, "cohen_kappa": 0.5}


@pytest.mark.django_db
def test_a_skip_moves_the_reviewer_on_and_leaves_the_item_to_the_others(api_client: APIClient, settings: Any) -> None:
    settings.REVIEW_SKIP_MINUTES = 60
    urgent = _decision(None, 0.5, text="malformed").review_item  # priority 3
    later = _decision("unsafe", 0.9, text="flagged").review_item  # priority 2
    rita, sam = UserFactory(roles=["reviewer"]), UserFactory(roles=["reviewer"])

    api_client.force_authenticate(rita)
    assert api_client.post("/api/v1/review/next/").json()["item"]["id"] == urgent.pk
    assert api_client.post(f"/api/v1/review/items/{urgent.pk}/release/").status_code == 200
    assert api_client.post("/api/v1/review/next/").json()["item"]["id"] == later.pk

    api_client.force_authenticate(sam)
    assert api_client.post("/api/v1/review/next/").json()["item"]["id"] == urgent.pk
    api_client.post(f"/api/v1/review/items/{urgent.pk}/release/")

    # Rita's skip lasts REVIEW_SKIP_MINUTES; then the item is hers to claim again.
    api_client.force_authenticate(rita)
    api_client.post(f"/api/v1/review/items/{later.pk}/release/")
    assert api_client.post("/api/v1/review/next/").status_code == 204
    ReviewSkip.objects.filter(reviewer=rita).update(skipped_at=timezone.now() - timedelta(minutes=61))
    assert api_client.post("/api/v1/review/next/").json()["item"]["id"] == urgent.pk


@pytest.mark.django_db
def test_stats_count_how_often_reviewers_overturn_the_guard_by_reason_and_model(
    api_client: APIClient, settings: Any
) -> None:
    settings.REVIEW_SAMPLE_RATE = 1.0
    old, new = (model_version_register(name=name, base="x", path="/m") for name in ("old", "new"))
    # (guard verdict, score, model, the reviewer's verdict), served most urgent first
    judged = [
        (None, 0.5, new, "unsafe"),  # malformed: nothing to compare
        ("unsafe", 0.9, old, "safe"),  # a false positive
        ("unsafe", 0.9, old, "unsafe"),
        ("unsafe", 0.9, new, "unsafe"),
        ("safe", 0.01, new, "unsafe"),  # sampled: a miss
        ("safe", 0.01, new, "safe"),
    ]
    for n, (verdict, score, model, _) in enumerate(judged):
        _decision(verdict, score, text=f"item {n}", model=model)
    reviewer = UserFactory(roles=["reviewer"])
    for *_, label in judged:
        _label_next(reviewer, label)

    api_client.force_authenticate(reviewer)
    outcomes = api_client.get("/api/v1/review/stats/").json()["guard_vs_review"]
    assert {k: outcomes[k] for k in ("reviewed", "compared", "overturned", "overturn_rate", "reviewer_unsafe")} == {
        "reviewed": 6,
        "compared": 5,
        "overturned": 2,
        "overturn_rate": 0.4,
        "reviewer_unsafe": 4,
    }
    by_reason = {
        reason: (c["reviewed"], c["overturned"], c["overturn_rate"]) for reason, c in outcomes["by_reason"].items()
    }
    assert by_reason == {"flagged": (3, 1, 1 / 3), "malformed": (1, 0, None), "sampled": (2, 1, 0.5)}
    assert [(m["name"], m["reviewed"], m["compared"], m["overturned"]) for m in outcomes["by_model"]] == [
        ("new", 4, 3, 1),
        ("old", 2, 2, 1),
    ]
    assert [(p["slug"], p["reviewed"]) for p in outcomes["by_policy"]] == [("core-safety", 6)]


@pytest.mark.django_db
def test_stats_since_leaves_out_items_finished_before_it(api_client: APIClient) -> None:
    first, second = UserFactory(roles=["reviewer"]), UserFactory(roles=["reviewer"])
    for n in range(2):
        item = _decision("unsafe", 0.9, text=f"item {n}").review_item
        ReviewItem.objects.filter(pk=item.pk).update(labels_needed=2)
        _label_next(first, "unsafe")
        _label_next(second, "unsafe")
    last_week = timezone.now() - timedelta(days=7)
    earlier = ReviewItem.objects.order_by("pk").first()
    assert earlier is not None
    ReviewItem.objects.filter(pk=earlier.pk).update(done_at=last_week)
    ReviewLabel.objects.filter(item=earlier).update(created_at=last_week)
    Case.objects.filter(decision__review_item=earlier).update(created_at=last_week)

    api_client.force_authenticate(first)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    recent = api_client.get("/api/v1/review/stats/", {"since": since}).json()
    assert recent["since"] is not None
    assert (recent["agreement"]["pairs"], recent["guard_vs_review"]["reviewed"]) == (1, 1)
    everything = api_client.get("/api/v1/review/stats/").json()
    assert (everything["agreement"]["pairs"], everything["guard_vs_review"]["reviewed"]) == (2, 2)


@pytest.mark.django_db
def test_stats_reject_a_since_that_is_not_a_time(api_client: APIClient) -> None:
    api_client.force_authenticate(UserFactory(roles=["reviewer"]))
    response = api_client.get("/api/v1/review/stats/", {"since": "last tuesday"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["errors"][0]["field"] == "since"


def _claim_and_label(
    client: APIClient, reviewer: Any, *, verdict: str, categories: list[str], rationale: str = ""
) -> dict[str, Any]:
    """Claim the next item over HTTP as `reviewer`, label it, and give back the item as claimed."""
    client.force_authenticate(reviewer)
    claimed = client.post("/api/v1/review/next/").json()["item"]
    response = client.post(
        f"/api/v1/review/items/{claimed['id']}/label/",
        {"verdict": verdict, "categories": categories, "rationale": rationale},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return dict(claimed)


@pytest.mark.django_db
def test_disagreeing_labels_escalate_the_item_to_a_third_reviewer_whose_label_settles_it(
    api_client: APIClient,
) -> None:
    item = _decision("unsafe", 0.9, text="you will regret this").review_item
    ReviewItem.objects.filter(pk=item.pk).update(labels_needed=2)
    first, second, third = (UserFactory(roles=["reviewer"]) for _ in range(3))
    _claim_and_label(api_client, first, verdict="unsafe", categories=["S1"], rationale="reads as a threat")
    second_view = _claim_and_label(api_client, second, verdict="safe", categories=[], rationale="song lyric")
    assert (second_view["escalated_at"], second_view["earlier_labels"]) == (None, [])  # still independent

    item.refresh_from_db()
    assert (item.status, item.labels_needed, item.priority) == ("open", 3, 4)
    assert item.escalated_at is not None
    assert not Case.objects.exists()  # training takes no side while the reviewers disagree
    stats = api_client.get("/api/v1/review/stats/").json()
    assert stats["escalations"] == {"raised": 1, "settled": 0, "waiting": 1}
    assert stats["agreement"]["pairs"] == 1  # the disagreement counts at once, not once settled
    for reviewer in (first, second):
        api_client.force_authenticate(reviewer)
        assert api_client.post("/api/v1/review/next/").status_code == 204

    api_client.force_authenticate(third)
    claimed = api_client.post("/api/v1/review/next/").json()["item"]
    assert claimed["escalated_at"] is not None
    assert [(label["reviewer"], label["verdict"], label["rationale"]) for label in claimed["earlier_labels"]] == [
        (first.username, "unsafe", "reads as a threat"),
        (second.username, "safe", "song lyric"),
    ]
    history = api_client.get(f"/api/v1/decisions/{item.decision_id}/").json()["review_history"]
    assert history["escalated_at"] is not None
    assert len(history["labels"]) == 2
    response = api_client.post(
        f"/api/v1/review/items/{claimed['id']}/label/",
        {"verdict": "unsafe", "categories": ["S2"], "rationale": "a threat naming a place"},
        format="json",
    )
    assert response.status_code == 201

    item.refresh_from_db()
    assert item.status == "done"
    case = Case.objects.get()
    assert (case.verdict, case.categories, case.rationale) == ("unsafe", ["S2"], "a threat naming a place")
    assert api_client.get("/api/v1/review/stats/").json()["escalations"] == {"raised": 1, "settled": 1, "waiting": 0}


@pytest.mark.django_db
def test_unsafe_labels_naming_different_categories_escalate_and_agreeing_ones_do_not(
    api_client: APIClient,
) -> None:
    differ = _decision("unsafe", 0.9, text="first").review_item
    same = _decision("unsafe", 0.9, text="second").review_item
    ReviewItem.objects.filter(pk__in=[differ.pk, same.pk]).update(labels_needed=2)
    first, second = UserFactory(roles=["reviewer"]), UserFactory(roles=["reviewer"])
    _claim_and_label(api_client, first, verdict="unsafe", categories=["S1"])
    _claim_and_label(api_client, first, verdict="unsafe", categories=["S1", "S2"])
    _claim_and_label(api_client, second, verdict="unsafe", categories=["S2"])
    _claim_and_label(api_client, second, verdict="unsafe", categories=["S2", "S1"])

    differ.refresh_from_db()
    same.refresh_from_db()
    assert (differ.status, differ.escalated_at is not None) == ("open", True)
    assert (same.status, same.escalated_at) == ("done", None)
    assert list(Case.objects.values_list("decision_id", "categories")) == [(same.decision_id, ["S1", "S2"])]


@pytest.mark.django_db
def test_an_escalated_item_is_served_before_anything_else(api_client: APIClient) -> None:
    item = _decision("unsafe", 0.9, text="disputed").review_item
    ReviewItem.objects.filter(pk=item.pk).update(labels_needed=2)
    first, second, third = (UserFactory(roles=["reviewer"]) for _ in range(3))
    _claim_and_label(api_client, first, verdict="unsafe", categories=["S1"])
    _claim_and_label(api_client, second, verdict="safe", categories=[])
    malformed = _decision(None, 0.5, text="the guard could not say").review_item
    assert malformed.priority < PRIORITY_ESCALATED

    api_client.force_authenticate(third)
    assert api_client.post("/api/v1/review/next/").json()["item"]["id"] == item.pk


@pytest.mark.django_db
def test_the_audit_shows_how_many_labels_an_item_has_while_hiding_them_and_an_expired_claim_as_open(
    api_client: APIClient,
) -> None:
    item = _decision("unsafe", 0.9, text="two opinions").review_item
    ReviewItem.objects.filter(pk=item.pk).update(labels_needed=2)
    first, second, auditor = (UserFactory(roles=["reviewer"]) for _ in range(3))
    _claim_and_label(api_client, first, verdict="unsafe", categories=["S1"])
    api_client.force_authenticate(second)
    api_client.post("/api/v1/review/next/")
    ReviewItem.objects.filter(pk=item.pk).update(claim_expires_at=timezone.now() - timedelta(minutes=1))

    api_client.force_authenticate(auditor)
    detail = api_client.get(f"/api/v1/decisions/{item.decision_id}/").json()
    history = detail["review_history"]
    assert (history["labels_given"], history["labels_needed"], history["labels"]) == (1, 2, [])
    assert history["status"] == detail["review"]["status"] == "open"

from __future__ import annotations
from datetime import timedelta
from typing import Any
import pytest
from django.db.models import ProtectedError
from django.utils import timezone
from rest_framework.test import APIClient
from moderation_app.models import ReviewItem
from moderation_app.services import review_claim_next, review_label
from moderation_app.tests.factories import UserFactory, judged_decision
pytestmark = pytest.mark.django_db

@pytest.fixture(autouse=True)
def _s(settings: Any) -> None:
    settings.REVIEW_SECOND_OPINION_RATE = 0.0
    settings.REVIEW_SAMPLE_RATE = 1.0

def test_naive_since(api_client: APIClient) -> None:
    d = judged_decision(verdict="unsafe", score=0.9)
    r = UserFactory(roles=["reviewer"])
    it = review_claim_next(reviewer=r); review_label(item=it, reviewer=r, verdict="safe", categories=[], rationale="")
    api_client.force_authenticate(r)
    naive = (timezone.now() - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    resp = api_client.get("/api/v1/review/stats/", {"since": naive})
    print(resp.status_code, resp.json()["since"], resp.json()["guard_vs_review"]["reviewed"])
    assert resp.json()["guard_vs_review"]["reviewed"] == 1
    fut = (timezone.now() + timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    assert api_client.get("/api/v1/review/stats/", {"since": fut}).json()["guard_vs_review"]["reviewed"] == 0
    assert api_client.get("/api/v1/review/stats/", {"since": "2020-01-01"}).status_code == 200

def test_priority_many() -> None:
    spec = [("safe", 0.01), ("safe", 0.4), ("unsafe", 0.9), (None, 0.5)] * 6
    ids = []
    for n, (v, s) in enumerate(spec):
        ids.append((judged_decision(verdict=v, score=s, text=f"t{n}").review_item))
    r = UserFactory(roles=["reviewer"])
    got = []
    while (it := review_claim_next(reviewer=r)) is not None:
        got.append((it.priority, it.created_at, it.pk))
        review_label(item=it, reviewer=r, verdict="safe", categories=[], rationale="")
    assert len(got) == 24
    assert got == sorted(got, key=lambda g: (-g[0], g[1], g[2]))
    assert [g[0] for g in got] == [3]*6 + [2]*6 + [1]*6 + [0]*6

def test_delete_user() -> None:
    judged_decision(verdict="unsafe", score=0.9)
    r = UserFactory(roles=["reviewer"])
    it = review_claim_next(reviewer=r); review_label(item=it, reviewer=r, verdict="safe", categories=[], rationale="")
    with pytest.raises(ProtectedError):
        r.delete()

def test_old_policy_version_labels(api_client: APIClient) -> None:
    from policies_app.services import policy_ensure_default
    d = judged_decision(verdict="unsafe", score=0.9)
    r = UserFactory(roles=["reviewer"]); api_client.force_authenticate(r)
    body = api_client.post("/api/v1/review/next/").json()["item"]
    print([c["code"] for c in body["policy_categories"]])
    other = UserFactory(roles=["reviewer"])
    c2 = APIClient(); c2.force_authenticate(other)
    assert c2.post(f"/api/v1/review/items/{body['id']}/label/", {"verdict": "safe"}, format="json").status_code == 409
    assert c2.post(f"/api/v1/review/items/{body['id']}/release/").status_code == 409

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from moderation_app.services import api_key_create
from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_ensure_default
from training_worker.models import ModelVersion, TrainingRun
from training_worker.selectors import model_version_active
from training_worker.services import model_version_activate, model_version_register

pytestmark = pytest.mark.django_db

MODEL_FIELDS = {
    "id",
    "name",
    "base",
    "path",
    "template_version",
    "source",
    "status",
    "metrics",
    "parent",
    "training_run",
    "created_at",
    "activated_at",
}
RUN_FIELDS = {
    "id",
    "status",
    "trigger",
    "requested_by",
    "config",
    "dataset",
    "sft_ran",
    "steps",
    "eval_before",
    "eval_after",
    "gate",
    "candidate",
    "error",
    "logs",
    "created_at",
    "started_at",
    "finished_at",
    "duration_s",
}


@pytest.fixture
def engineer(api_client: APIClient) -> APIClient:
    api_client.force_authenticate(UserFactory(username="mel", roles=["ml_engineer"]))
    return api_client


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/models/"),
        ("post", "/api/v1/models/1/activate/"),
        ("get", "/api/v1/training-runs/"),
        ("post", "/api/v1/training-runs/"),
        ("get", "/api/v1/training-runs/1/"),
    ],
)
def test_it_needs_the_ml_engineer_role(api_client: APIClient, method: str, path: str) -> None:
    assert getattr(api_client, method)(path, {}, format="json").status_code == 401
    api_client.force_authenticate(UserFactory(roles=["reviewer", "policy_editor"]))
    refused = getattr(api_client, method)(path, {}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"


def test_an_api_key_cannot_reach_the_training_api(api_client: APIClient) -> None:
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="svc", policy=policy, actor=None)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get("/api/v1/training-runs/").status_code == 403


def test_a_superuser_may_use_it(api_client: APIClient) -> None:
    api_client.force_authenticate(UserFactory(is_superuser=True, is_staff=True))
    assert api_client.get("/api/v1/models/").status_code == 200


def test_it_lists_models_newest_first_with_their_lineage(engineer: APIClient) -> None:
    base = model_version_activate(model_version=model_version_register(name="base", base="hub/x", path="/m/base"))
    run = TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED)
    child = model_version_register(
        name="child", base="base", path="/m/child", source="trained", parent=base, training_run=run
    )
    body = engineer.get("/api/v1/models/?limit=1").json()
    assert body["count"] == 2
    assert body["next"] is not None
    (first,) = body["results"]
    assert set(first) >= MODEL_FIELDS
    assert (first["id"], first["parent"], first["training_run"]) == (child.pk, base.pk, run.pk)
    assert (first["status"], first["source"]) == ("candidate", "trained")


def test_it_activates_a_candidate_and_rolls_back_recording_who(engineer: APIClient) -> None:
    old = model_version_activate(model_version=model_version_register(name="old", base="x", path="/m/old"))
    new = model_version_register(name="new", base="old", path="/m/new", parent=old)
    promoted = engineer.post(f"/api/v1/models/{new.pk}/activate/")
    assert promoted.status_code == 200
    assert promoted.json()["status"] == "active"
    assert promoted.json()["activated_by"] == "mel"
    assert promoted.json()["activated_at"] is not None
    assert ModelVersion.objects.get(pk=old.pk).status == "retired"
    rolled_back = engineer.post(f"/api/v1/models/{old.pk}/activate/")
    assert rolled_back.json()["status"] == "active"
    assert model_version_active() == old
    assert ModelVersion.objects.get(pk=new.pk).status == "retired"


def test_activating_an_unknown_model_is_404(engineer: APIClient) -> None:
    response = engineer.post("/api/v1/models/999999/activate/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_starts_a_run_and_refuses_a_second_while_it_is_queued(engineer: APIClient) -> None:
    started = engineer.post("/api/v1/training-runs/", {"steps": 4, "config": {"beta": 0.0}}, format="json")
    assert started.status_code == 202
    run = started.json()
    assert set(run) >= RUN_FIELDS
    assert (run["status"], run["trigger"], run["requested_by"]) == ("queued", "manual", "mel")
    assert (run["config"]["steps"], run["config"]["beta"]) == (4, 0.0)
    assert run["candidate"] is None
    assert (run["dataset"], run["eval_before"], run["eval_after"], run["gate"]) == (None, None, None, None)
    again = engineer.post("/api/v1/training-runs/", {}, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "training_in_progress"
    assert TrainingRun.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"steps": 0}, "steps"), ({"config": {"stepz": 1}}, "stepz"), ({"config": "fast"}, "config")],
)
def test_it_rejects_a_bad_run_request(engineer: APIClient, body: dict[str, Any], field: str) -> None:
    response = engineer.post("/api/v1/training-runs/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["message"]
    assert not TrainingRun.objects.exists()


def test_it_shows_a_run_with_its_metrics_and_candidate(engineer: APIClient) -> None:
    base = model_version_activate(model_version=model_version_register(name="base", base="x", path="/m/base"))
    step = {
        "step": 1,
        "reward_mean": 0.5,
        "reward_std": 0.1,
        "frac_reward_zero_std": 0.25,
        "format_rate": 0.9,
        "accuracy": 0.6,
        "loss": 0.01,
        "kl": 0.002,
    }
    evaluation = {"f1": 0.5, "precision": 0.5, "recall": 0.5, "accuracy": 0.5, "format_rate": 1.0}
    run = TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED,
        steps=[step],
        eval_before=evaluation,
        eval_after=evaluation,
        gate={"promoted": False, "reason": "below the margin"},
        base_model=base,
    )
    candidate = model_version_register(name="c", base="base", path="/m/c", parent=base, training_run=run)
    body = engineer.get(f"/api/v1/training-runs/{run.pk}/").json()
    assert body["steps"] == [step]
    assert body["candidate"] == candidate.pk
    assert body["gate"] == {"promoted": False, "reason": "below the margin"}
    listed = engineer.get("/api/v1/training-runs/").json()
    assert listed["count"] == 1
    assert listed["results"][0]["id"] == run.pk
    assert engineer.get("/api/v1/training-runs/999999/").status_code == 404


def test_a_guard_worker_switches_to_the_model_activated_through_the_api(
    engineer: APIClient, tiny_model_dir: Any, other_tiny_model_dir: Any
) -> None:
    from policies_app.models import PolicyVersion
    from training_worker.guard.runtime import GuardRuntime
    from training_worker.guard.template import Message
    from training_worker.guard.types import GuardRequest

    policy, _ = policy_ensure_default()
    spec = PolicyVersion.objects.get(policy=policy, number=1).spec
    request = GuardRequest(spec=spec, messages=(Message("user", "hello"),), target="prompt", reasoning="none")
    runtime = GuardRuntime(backend="transformers", max_batch=2, max_wait_ms=1, max_think_tokens=2, check_interval_s=0)
    old = model_version_activate(model_version=model_version_register(name="a", base="x", path=str(tiny_model_dir)))
    assert runtime.judge(request)[1] == old
    new = model_version_register(name="b", base="a", path=str(other_tiny_model_dir), parent=old)
    assert engineer.post(f"/api/v1/models/{new.pk}/activate/").status_code == 200
    assert runtime.judge(request)[1] == new
    assert engineer.post(f"/api/v1/models/{old.pk}/activate/").status_code == 200
    assert runtime.judge(request)[1] == old

"""Training runs on a real train worker with the tiny random model: one in this process, start to
gate; one in a worker process that is killed in the middle of training."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from config.celery import app
from moderation_app.models import Case
from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_ensure_default
from tests.worker_processes import start_worker as start_worker_process
from tests.worker_processes import wait_for, worker_env
from training_worker.models import ModelVersion, TrainingRun
from training_worker.selectors import model_version_active
from training_worker.services import STEP_FIELDS, training_runs_recover_stale
from training_worker.tests.run_helpers import TINY_CONFIG, labelled_cases

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _engineer_client() -> APIClient:
    client = APIClient()
    client.force_authenticate(UserFactory(username="mel", roles=["ml_engineer"]))
    return client


def _finished(run_id: int) -> bool:
    return TrainingRun.objects.get(pk=run_id).status in (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.FAILED)


def test_a_run_on_the_train_worker_yields_a_gated_candidate(
    active_tiny_model: ModelVersion, settings: Any, tmp_path: Path
) -> None:
    settings.MODEL_STORE = tmp_path
    settings.GUARD_MAX_THINK_TOKENS = 4
    labelled_cases(16)
    client = _engineer_client()
    with start_worker(app, queues=["train"], pool="solo", perform_ping_check=False):
        accepted = client.post("/api/v1/training-runs/", {"steps": 2, "config": TINY_CONFIG}, format="json")
        assert accepted.status_code == 202
        run_id = accepted.json()["id"]
        wait_for(lambda: _finished(run_id), 600, "the run to finish")
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == TrainingRun.Status.SUCCEEDED, f"{run.error}\n{run.logs[-3000:]}"
    assert [step["step"] for step in run.steps] == [1, 2]
    assert all(set(STEP_FIELDS) <= set(step) for step in run.steps)
    held_out = Case.objects.filter(split=Case.Split.EVAL).count()
    assert run.dataset == {
        "train": 16 - held_out,
        "eval": min(held_out, TINY_CONFIG["eval_size"]),
        "new_cases": 16 - held_out,
        "replay_cases": 0,
        "skipped_cases": 0,
    }
    tests = len(policy_ensure_default()[0].published_version.spec["tests"])  # type: ignore[union-attr]
    for evaluation in (run.eval_before, run.eval_after):
        assert evaluation["n"] == run.dataset["eval"]
        assert {"f1", "precision", "recall", "accuracy", "format_rate", "per_category_recall"} <= set(evaluation)
        assert evaluation["policy_tests"]["total"] == tests
    candidate = ModelVersion.objects.get(training_run=run)
    assert candidate.parent == active_tiny_model
    assert candidate.source == ModelVersion.Source.TRAINED
    assert (Path(candidate.path) / "config.json").is_file()
    assert isinstance(run.gate["promoted"], bool)
    assert run.gate["reason"]
    assert (candidate.status == ModelVersion.Status.ACTIVE) == run.gate["promoted"]
    assert model_version_active() == (candidate if run.gate["promoted"] else active_tiny_model)
    assert candidate.metrics["gate"] == run.gate
    detail = client.get(f"/api/v1/training-runs/{run_id}/").json()
    assert detail["candidate"] == candidate.pk
    assert detail["duration_s"] > 0
    assert "grpo step 2/2" in detail["logs"]


def _start_train_worker(model_store: Path, lines: list[str]) -> subprocess.Popen[str]:
    env = worker_env(
        MODEL_STORE=str(model_store),
        TRAIN_STALE_AFTER_S="10",
        GUARD_MAX_THINK_TOKENS="4",
        BROKER_VISIBILITY_TIMEOUT_S="3600",  # no redelivery to another worker during the test
    )
    return start_worker_process(name="train-doomed", queue="train", pool="solo", env=env, lines=lines)


def test_a_killed_train_worker_leaves_the_active_model_and_frees_the_lock(
    active_tiny_model: ModelVersion, settings: Any, tmp_path: Path
) -> None:
    labelled_cases(16)
    client = _engineer_client()
    lines: list[str] = []
    worker = _start_train_worker(tmp_path, lines)
    try:
        wait_for(lambda: any("ready." in line for line in lines), 120, "the train worker", lines)
        accepted = client.post("/api/v1/training-runs/", {"steps": 500, "config": TINY_CONFIG}, format="json")
        run_id = accepted.json()["id"]

        def training() -> bool:
            run = TrainingRun.objects.get(pk=run_id)
            assert run.status != TrainingRun.Status.FAILED, run.error
            return bool(run.steps) and "grpo:" in run.logs

        wait_for(training, 300, "GRPO steps and logs in the run", lines)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert TrainingRun.objects.get(pk=run_id).status == TrainingRun.Status.RUNNING  # nobody is left to say otherwise
    assert client.post("/api/v1/training-runs/", {}, format="json").status_code == 409

    settings.TRAIN_STALE_AFTER_S = 1  # the worker's heartbeat has stopped: let it go stale here
    wait_for(lambda: run_id in training_runs_recover_stale(), 60, "the run to be recognised as stale")
    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == TrainingRun.Status.FAILED
    assert "stopped reporting" in run.error
    assert "grpo:" in run.logs
    assert model_version_active() == active_tiny_model
    assert not ModelVersion.objects.exclude(pk=active_tiny_model.pk).exists()
    assert client.post("/api/v1/training-runs/", {}, format="json").status_code == 202
    assert django_settings.TRAIN_STALE_AFTER_S == 1

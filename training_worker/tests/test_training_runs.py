from __future__ import annotations

import importlib
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.errors import ApiError
from training_worker.models import ModelVersion, TrainingRun
from training_worker.selectors import model_version_active
from training_worker.services import (
    GateDecision,
    TrainingError,
    gate_decide,
    model_version_activate,
    model_version_register,
    training_run_create,
    training_run_execute,
    training_run_gate_apply,
    training_runs_recover_stale,
    training_schedule_check,
)
from training_worker.tests.run_helpers import TINY_CONFIG, labelled_cases


def _active(name: str = "base", path: str = "/models/base") -> ModelVersion:
    return model_version_activate(model_version=model_version_register(name=name, base="tiny", path=path))


def _running_run(**fields: Any) -> TrainingRun:
    now = timezone.now()
    return TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, started_at=now, heartbeat_at=now, **fields)


# --- One run at a time -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_request_is_told_a_run_is_in_progress() -> None:
    first = training_run_create(steps=3, enqueue=False)
    with pytest.raises(ApiError) as refused:
        training_run_create(enqueue=False)
    assert refused.value.status_code == 409
    assert refused.value.error_code == "training_in_progress"
    assert f"training run {first.pk} is queued" in str(refused.value.detail)
    assert TrainingRun.objects.count() == 1
    assert first.config["steps"] == 3


@pytest.mark.django_db(transaction=True)
def test_of_two_concurrent_requests_one_starts_a_run_and_the_other_gets_409() -> None:
    barrier = threading.Barrier(2)
    outcomes: list[Any] = []

    def request() -> None:
        try:
            barrier.wait(5)
            outcomes.append(training_run_create(enqueue=False))
        except ApiError as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(type(o).__name__ for o in outcomes) == ["ApiError", "TrainingRun"]
    refused = next(o for o in outcomes if isinstance(o, ApiError))
    assert refused.status_code == 409
    assert TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED).count() == 1


@pytest.mark.django_db
def test_a_finished_run_frees_the_lock() -> None:
    training_run_create(enqueue=False)
    TrainingRun.objects.update(status=TrainingRun.Status.FAILED)
    assert training_run_create(enqueue=False).status == TrainingRun.Status.QUEUED


@pytest.mark.django_db
def test_it_rejects_unknown_or_invalid_config_and_stores_nothing() -> None:
    with pytest.raises(ApiError, match="unknown training option"):
        training_run_create(config={"stepz": 2}, enqueue=False)
    with pytest.raises(ApiError, match="replay_size must be a whole number"):
        training_run_create(config={"replay_size": -1}, enqueue=False)
    assert not TrainingRun.objects.exists()


# --- Killed and lost runs ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_run_that_stopped_reporting_is_failed_and_the_next_request_proceeds(settings: Any) -> None:
    active = _active()
    settings.TRAIN_STALE_AFTER_S = 60
    dead = _running_run(base_model=active)
    TrainingRun.objects.filter(pk=dead.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    fresh = training_run_create(enqueue=False)
    dead.refresh_from_db()
    assert dead.status == TrainingRun.Status.FAILED
    assert "stopped reporting" in dead.error
    assert dead.finished_at is not None
    assert fresh.status == TrainingRun.Status.QUEUED
    assert model_version_active() == active


@pytest.mark.django_db
def test_a_run_that_is_still_reporting_is_left_alone(settings: Any) -> None:
    settings.TRAIN_STALE_AFTER_S = 60
    alive = _running_run()
    assert training_runs_recover_stale() == []
    with pytest.raises(ApiError, match=f"training run {alive.pk} is running"):
        training_run_create(enqueue=False)


@pytest.mark.django_db
def test_a_run_no_worker_started_is_failed_after_the_queued_timeout(settings: Any) -> None:
    settings.TRAIN_QUEUED_TIMEOUT_S = 60
    waiting = training_run_create(enqueue=False)
    TrainingRun.objects.filter(pk=waiting.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert training_runs_recover_stale() == [waiting.pk]
    waiting.refresh_from_db()
    assert waiting.status == TrainingRun.Status.FAILED
    assert "no train worker started it" in waiting.error


# --- Failures ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_training_fails_records_the_error_and_logs_and_keeps_the_active_model(tmp_path: Path) -> None:
    labelled_cases(10)
    active = _active(name="unloadable", path=str(tmp_path / "missing"))
    run = training_run_execute(run=training_run_create(config=TINY_CONFIG, enqueue=False))
    assert run.status == TrainingRun.Status.FAILED
    assert "missing or has no config.json" in run.error
    assert "training run" in run.logs
    assert "Traceback" in run.logs
    assert run.finished_at is not None
    assert run.dataset["train"] + run.dataset["eval"] == 10
    assert model_version_active() == active
    assert not ModelVersion.objects.filter(training_run=run).exists()


@pytest.mark.django_db(transaction=True)
def test_a_run_without_labelled_cases_fails_with_the_reason() -> None:
    _active()
    run = training_run_execute(run=training_run_create(enqueue=False))
    assert run.status == TrainingRun.Status.FAILED
    assert run.error == "TrainingError: no labelled cases to train on: review some decisions or import cases"


@pytest.mark.django_db
def test_a_run_that_is_not_queued_is_not_executed_again() -> None:
    run = _running_run()
    assert training_run_execute(run=run).status == TrainingRun.Status.RUNNING
    assert TrainingRun.objects.get(pk=run.pk).logs == ""


# --- The gate applied --------------------------------------------------------------------------


def _candidate_of(run: TrainingRun, base: ModelVersion) -> ModelVersion:
    return model_version_register(
        name=f"guard-run-{run.pk}",
        base=base.name,
        path="/models/candidate",
        source=ModelVersion.Source.TRAINED,
        parent=base,
        training_run=run,
    )


def _evaluation(f1: float) -> dict[str, Any]:
    return {"n": 10, "f1": f1, "policy_tests": {"passed": 3, "total": 3, "failed": []}}


@pytest.mark.django_db
def test_a_better_candidate_is_promoted() -> None:
    base = _active()
    run = _running_run(base_model=base)
    candidate = _candidate_of(run, base)
    decision = gate_decide(before=_evaluation(0.5), after=_evaluation(0.7), margin=0.01)
    run = training_run_gate_apply(
        run_id=run.pk, candidate=candidate, base=base, evaluation=_evaluation(0.7), decision=decision
    )
    candidate.refresh_from_db()
    base.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.gate["promoted"] is True
    assert candidate.status == ModelVersion.Status.ACTIVE
    assert base.status == ModelVersion.Status.RETIRED
    assert candidate.metrics["f1"] == 0.7
    assert candidate.metrics["gate"]["promoted"] is True


@pytest.mark.django_db
def test_a_worse_candidate_is_kept_as_a_candidate_with_the_reason() -> None:
    base = _active()
    run = _running_run(base_model=base)
    candidate = _candidate_of(run, base)
    decision = gate_decide(before=_evaluation(0.5), after=_evaluation(0.4), margin=0.01)
    run = training_run_gate_apply(
        run_id=run.pk, candidate=candidate, base=base, evaluation=_evaluation(0.4), decision=decision
    )
    candidate.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED
    assert run.gate["promoted"] is False
    assert "below the required improvement" in run.gate["reason"]
    assert candidate.status == ModelVersion.Status.CANDIDATE
    assert candidate.metrics["gate"]["reason"] == run.gate["reason"]
    assert model_version_active() == base


@pytest.mark.django_db
def test_a_candidate_is_not_promoted_over_a_model_activated_during_the_run() -> None:
    base = _active()
    run = _running_run(base_model=base)
    candidate = _candidate_of(run, base)
    rolled_back_to = _active(name="other", path="/models/other")
    run = training_run_gate_apply(
        run_id=run.pk,
        candidate=candidate,
        base=base,
        evaluation=_evaluation(0.9),
        decision=GateDecision(True, "F1 improved"),
    )
    assert run.gate["promoted"] is False
    assert "the active model changed during the run" in run.gate["reason"]
    assert model_version_active() == rolled_back_to


@pytest.mark.django_db
def test_a_run_failed_as_stale_never_activates_its_candidate() -> None:
    base = _active()
    run = _running_run(base_model=base)
    candidate = _candidate_of(run, base)
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.FAILED, error="stopped reporting")
    with pytest.raises(TrainingError, match="not activated"):
        training_run_gate_apply(
            run_id=run.pk, candidate=candidate, base=base, evaluation=_evaluation(0.9), decision=GateDecision(True, "")
        )
    assert model_version_active() == base


# --- Scheduling --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_schedule_starts_a_run_once_enough_new_cases_exist(settings: Any) -> None:
    settings.TRAIN_MIN_NEW_CASES = 6
    labelled_cases(4)
    assert training_schedule_check() is None
    labelled_cases(2, start=100)
    run = training_schedule_check()
    assert run is not None
    assert run.trigger == TrainingRun.Trigger.SCHEDULE
    assert training_schedule_check() is None  # one already queued


@pytest.mark.django_db
def test_the_schedule_counts_only_cases_since_the_last_successful_run(settings: Any) -> None:
    settings.TRAIN_MIN_NEW_CASES = 3
    labelled_cases(4)
    TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED, started_at=timezone.now())
    labelled_cases(2, start=100)
    assert training_schedule_check() is None
    labelled_cases(1, start=200)
    assert training_schedule_check() is not None


@pytest.mark.django_db
def test_the_periodic_task_is_registered_once_and_editable() -> None:
    migration = importlib.import_module("training_worker.migrations.0003_training_schedule")
    PeriodicTask.objects.filter(name=migration.TASK_NAME).delete()
    migration.create_schedule(apps, None)
    task = PeriodicTask.objects.get(name=migration.TASK_NAME)
    assert task.task == "training_worker.tasks.train.train_on_new_reviews"
    assert task.interval is not None
    assert (task.interval.every, task.interval.period) == (1, "hours")
    task.enabled = False
    task.save()
    migration.create_schedule(apps, None)  # an edited schedule is left as it is
    assert PeriodicTask.objects.filter(name=migration.TASK_NAME).count() == 1
    assert not PeriodicTask.objects.get(name=migration.TASK_NAME).enabled


# --- manage.py train ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_train_command_queues_a_run_and_refuses_a_second(capsys: Any) -> None:
    call_command("train", "--steps", "2", "--config", '{"learning_rate": 0.0001}')
    run = TrainingRun.objects.get()
    assert "queued for the train worker" in capsys.readouterr().out
    assert (run.config["steps"], run.config["learning_rate"], run.trigger) == (2, 0.0001, "manual")
    with pytest.raises(CommandError, match="one run at a time"):
        call_command("train")


@pytest.mark.django_db(transaction=True)
def test_the_train_command_with_wait_runs_here_and_reports_a_failure(capsys: Any) -> None:
    active = _active()
    with pytest.raises(CommandError, match="failed: TrainingError: no labelled cases to train on"):
        call_command("train", "--steps", "1", "--wait")
    assert "running here" in capsys.readouterr().out
    assert TrainingRun.objects.get().status == TrainingRun.Status.FAILED
    assert model_version_active() == active

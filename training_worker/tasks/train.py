"""Tasks of training runs. `run_training` goes to the `train` queue (one solo worker, the GPU);
`train_on_new_reviews`, the periodic check, goes to `default` (see CELERY_TASK_ROUTES).

Celery enforces time limits only in the prefork pool, and the train worker is solo, so the run also
checks TRAIN_TIME_LIMIT_S itself at every step; the task limits below still guard a prefork worker."""

from __future__ import annotations

from django.conf import settings

from config.celery import app
from training_worker.models import TrainingRun
from training_worker.services import training_run_execute, training_schedule_check


@app.task(
    name="training_worker.tasks.train.run_training",
    acks_late=True,
    max_retries=0,
    soft_time_limit=settings.TRAIN_TIME_LIMIT_S + 600,
    time_limit=settings.TRAIN_TIME_LIMIT_S + 900,
)
def run_training(run_id: int) -> str:
    """Execute one queued run. A redelivered message (a worker that died mid-run) finds the run no longer
    queued and does nothing: the stale run is failed by the recovery, never trained twice."""
    run = TrainingRun.objects.get(pk=run_id)
    return str(training_run_execute(run=run).status)


@app.task(name="training_worker.tasks.train.train_on_new_reviews", acks_late=True, time_limit=120)
def train_on_new_reviews() -> int | None:
    """The periodic task (django-celery-beat): start a run once TRAIN_MIN_NEW_CASES labelled cases
    arrived since the last successful one. Returns the id of the run it queued, if any."""
    run = training_schedule_check()
    return run.pk if run is not None else None

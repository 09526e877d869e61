"""Tasks on the `guard` queue (see CELERY_TASK_ROUTES)."""

from __future__ import annotations

import os
import socket
from typing import Any

from config.celery import app
from training_worker.selectors import model_version_active


@app.task(name="training_worker.tasks.guard.ping", acks_late=False, ignore_result=False, time_limit=10)
def ping() -> dict[str, Any]:
    """Answers readiness probes: proves a guard worker is consuming its queue."""
    active = model_version_active()
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "active_model": active.name if active else None,
    }

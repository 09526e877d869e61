"""The Celery app shared by the guard worker, the default worker, the train worker and beat.

Run it as `celery -A config.celery ...`. Tasks import `app` from here rather than using
`shared_task`, so the app is configured before any task is declared.
"""

from __future__ import annotations

from celery import Celery

from config.startup import load_settings_or_exit

load_settings_or_exit()

app = Celery("arbiter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""gunicorn settings for the web process (`gunicorn -c platform/gunicorn.conf.py config.wsgi`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Sync moderation calls wait on the guard, so each worker serves several requests on threads.
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_class = "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 10
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Prometheus multi-process mode: every worker writes samples here and /metrics adds them up.
_metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR", Path(os.environ.get("VAR_DIR", "var")) / "prometheus"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_metrics_dir)


def on_starting(server: Any) -> None:
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)

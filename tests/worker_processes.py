"""Celery workers as real child processes, for tests that kill one: start, read its log, wait."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def worker_env(**overrides: str) -> dict[str, str]:
    """This process's environment, pointed at the test database, with `overrides` on top."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, **overrides}


def start_worker(*, name: str, queue: str, pool: str, env: dict[str, str], lines: list[str]) -> subprocess.Popen[str]:
    """A worker in its own session (so a test can kill its whole group); its log lines go to `lines`."""
    concurrency = "1" if pool == "solo" else "2"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.celery", "worker", "-Q", queue, "-P", pool, "-c", concurrency,
         "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "-l", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    return process


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, lines: list[str] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{''.join((lines or [])[-40:])}")

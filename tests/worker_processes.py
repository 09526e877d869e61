"""Celery workers as real child processes, for tests (and benchmarks) that need one: start it, read its log, wait
for it, kill it or stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def worker_env(**overrides: str) -> dict[str, str]:
    """This process's environment, pointed at the test database, with `overrides` on top."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, **overrides}


def start_worker(
    *, name: str, queue: str, pool: str, env: dict[str, str], lines: list[str], concurrency: int = 2
) -> subprocess.Popen[str]:
    """A worker in its own session (so a test can kill its whole group); its log lines go to `lines`."""
    threads = "1" if pool == "solo" else str(concurrency)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config.celery", "worker", "-Q", queue, "-P", pool, "-c", threads,
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


@contextmanager
def running_worker(
    *, name: str, queue: str, pool: str, env: dict[str, str], concurrency: int = 2
) -> Iterator[list[str]]:
    """A worker that is ready to take tasks, stopped (warm shutdown) on the way out; yields its log lines."""
    lines: list[str] = []
    process = start_worker(name=name, queue=queue, pool=pool, env=env, lines=lines, concurrency=concurrency)
    try:
        wait_for(lambda: any("ready." in line for line in lines), 120, f"the {name} worker", lines)
        yield lines
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)

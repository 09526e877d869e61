"""Whether any guard worker can judge now, as the web asks it while a synchronous call waits.

Without it, a call made while no guard worker ran (stopped, crashed, its model unable to load) held
its web thread for the whole GUARD_TIMEOUT_S before its 503, and a few such calls held every thread
the web has. Each guard worker now says every PRESENCE_INTERVAL_S, in the shared cache, that it can
judge (its model is loaded, loading, or loads on the first task) or why it cannot. A waiting call
looks after its first second without an answer, and every few seconds after that: when no worker
has said it can judge within PRESENCE_TTL_S, the call ends at once with a 503 (its decision stays
recorded and is judged once a worker is back).

One entry says "a worker can judge" and is kept alive by every worker that can, so one failing
worker among several never hides the others. A worker that stops removes nothing: the others would
have to say it again first, and the entry expires on its own within PRESENCE_TTL_S. A second entry
says "a worker has its model loaded": `/readyz` reads it when no task thread is free to answer its
ping in time (config/health.py).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from django.core.cache import cache

PRESENCE_INTERVAL_S = 2.0
PRESENCE_TTL_S = 10.0
# A caller that waits asks after this long without an answer, and again every PRESENCE_RECHECK_S.
PRESENCE_FIRST_CHECK_S = 1.0
PRESENCE_RECHECK_S = 3.0
SERVING = "guard:presence:serving"
READY = "guard:presence:ready"  # also serving, with its model loaded: for readiness (config/health.py)
FAILING = "guard:presence:failing"
logger = logging.getLogger(__name__)


def guard_presence_problem(*, status: dict[str, Any]) -> str | None:
    """Why a worker whose runtime reports `status` cannot judge, or None when it can.

    >>> guard_presence_problem(status={"loaded_model": None, "loading_model": None, "load_error": None}) is None
    True
    >>> guard_presence_problem(status={"loaded_model": None, "loading_model": "m", "load_error": "m stopped"}) is None
    True
    >>> guard_presence_problem(status={"loaded_model": None, "loading_model": None, "load_error": "cannot load m"})
    'cannot load m'
    """
    if status.get("loading_model") or not status.get("load_error"):
        return None  # loaded, loading, or loading on its first task
    return str(status["load_error"])


def guard_presence_report(*, status: dict[str, Any]) -> None:
    """One worker's word, from its runtime's `status()`. The cache failing costs only the early 503."""
    problem = guard_presence_problem(status=status)
    try:
        if problem is None:
            host = socket.gethostname()
            said = {SERVING: host}
            if status.get("loaded_model") and not status.get("loading_model"):
                said[READY] = host
            cache.set_many(said, timeout=PRESENCE_TTL_S)
        else:
            cache.set(FAILING, problem, timeout=PRESENCE_TTL_S)
    except Exception as exc:  # noqa: BLE001 - callers then wait as long as they would without presence
        logger.debug("could not report the guard worker's presence: %s", exc)


def guard_absence() -> str | None:
    """Why no guard worker can judge now, or None when one can, or when the cache cannot tell."""
    try:
        said = cache.get_many([SERVING, FAILING])
    except Exception:  # noqa: BLE001 - not knowing is no reason to give up on a call
        return None
    if SERVING in said:
        return None
    if FAILING in said:
        return f"the guard worker cannot judge ({said[FAILING]})"
    return f"no guard worker is running (none was seen in the last {PRESENCE_TTL_S:g}s)"


def guard_ready_host() -> str | None:
    """The host of a guard worker that said within PRESENCE_TTL_S that its model is loaded, if any."""
    try:
        host = cache.get(READY)
    except Exception:  # noqa: BLE001 - unknown: the caller relies on its own check
        return None
    return str(host) if host is not None else None


class GuardAbsent(Exception):
    """No guard worker can judge now: waiting longer for an answer is pointless."""


def guard_wait_slices(*, deadline: float) -> Iterator[float]:
    """Where each slice of a caller's wait for the guard ends (monotonic time), the last at `deadline`.
    Between two slices, raises `GuardAbsent` when no guard worker can judge."""
    until = min(time.monotonic() + PRESENCE_FIRST_CHECK_S, deadline)
    while True:
        yield until
        if until >= deadline:
            return
        if (reason := guard_absence()) is not None:
            raise GuardAbsent(reason)
        until = min(until + PRESENCE_RECHECK_S, deadline)


class PresenceReporter:
    """A guard worker's thread that reports its runtime's state every PRESENCE_INTERVAL_S until stopped."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="guard-presence", daemon=True)

    def start(self) -> PresenceReporter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(PRESENCE_INTERVAL_S * 2)

    def _run(self) -> None:
        from training_worker.guard.runtime import get_runtime

        while not self._stop.is_set():
            guard_presence_report(status=get_runtime().status())
            self._stop.wait(PRESENCE_INTERVAL_S)

"""Guard workers say whether they can judge; callers that wait stop waiting when none can."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from tests.worker_processes import running_worker, wait_for, worker_env
from training_worker.guard.runtime import GuardUnavailable, get_runtime
from training_worker.presence import (
    PRESENCE_TTL_S,
    GuardAbsent,
    PresenceReporter,
    guard_absence,
    guard_presence_report,
    guard_ready_host,
    guard_wait_slices,
)
from training_worker.services import model_version_activate, model_version_register

READY = {"loaded_model": "m", "loading_model": None, "load_error": None}
BROKEN = {"loaded_model": None, "loading_model": None, "load_error": "cannot load model m: no config.json"}


def test_nobody_reporting_means_no_guard_can_judge() -> None:
    assert guard_absence() == f"no guard worker is running (none was seen in the last {PRESENCE_TTL_S:g}s)"


def test_a_worker_whose_model_cannot_load_says_why() -> None:
    guard_presence_report(status=BROKEN)
    assert guard_absence() == "the guard worker cannot judge (cannot load model m: no config.json)"


def test_one_worker_that_can_judge_outweighs_one_that_cannot() -> None:
    guard_presence_report(status=BROKEN)
    guard_presence_report(status=READY)
    guard_presence_report(status=BROKEN)  # reported after it, by the other worker
    assert guard_absence() is None


def test_a_worker_loading_its_model_can_judge_soon() -> None:
    guard_presence_report(status={"loaded_model": None, "loading_model": "m", "load_error": "m stopped; loading it"})
    assert guard_absence() is None
    assert guard_ready_host() is None  # not ready: readiness waits for the load


def test_a_worker_with_its_model_loaded_is_ready() -> None:
    guard_presence_report(status=READY)
    assert guard_ready_host() == socket.gethostname()


def _absence_after_a_failed_load() -> str | None:
    """What callers hear once the runtime's load has failed and the worker has reported it."""
    runtime = get_runtime()
    with pytest.raises(GuardUnavailable):
        runtime.current()
    guard_presence_report(status=runtime.status())
    return guard_absence()


@pytest.mark.django_db
def test_the_runtime_reports_a_model_it_cannot_load(tmp_path: Path) -> None:
    broken = model_version_register(name="broken", base="nothing", path=str(tmp_path))
    model_version_activate(model_version=broken)
    absence = _absence_after_a_failed_load()
    assert absence is not None
    assert "cannot load model broken" in absence


@pytest.mark.django_db
def test_the_runtime_reports_that_no_model_is_active() -> None:
    absence = _absence_after_a_failed_load()
    assert absence is not None
    assert "no active guard model" in absence


def test_a_wait_stops_after_its_first_slice_when_no_guard_can_judge() -> None:
    deadline = time.monotonic() + 600
    slices = guard_wait_slices(deadline=deadline)
    first = next(slices)
    assert first < deadline
    with pytest.raises(GuardAbsent, match="no guard worker is running"):
        next(slices)


def test_a_wait_goes_on_to_its_deadline_while_a_guard_can_judge() -> None:
    guard_presence_report(status=READY)
    deadline = time.monotonic() + 9
    ends = list(guard_wait_slices(deadline=deadline))
    assert ends[-1] == deadline
    assert len(ends) == 4  # after 1 s, then every 3 s


def test_a_wait_shorter_than_a_slice_never_asks() -> None:
    deadline = time.monotonic() + 0.2
    assert list(guard_wait_slices(deadline=deadline)) == [deadline]  # no GuardAbsent: it never asked


def test_the_cache_failing_is_no_reason_to_give_up(settings: Any) -> None:
    settings.CACHES = {  # a port where nothing listens
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    guard_presence_report(status=READY)  # no error either
    assert guard_absence() is None


def test_the_reporter_reports_until_it_is_stopped() -> None:
    reporter = PresenceReporter().start()
    try:
        wait_for(lambda: guard_absence() is None, 5, "the first report")
    finally:
        reporter.stop()
    cache.clear()
    time.sleep(0.1)
    assert guard_absence() is not None  # nothing reported since


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_guard_worker_reports_while_it_runs(settings: Any) -> None:
    env = worker_env(GUARD_PRELOAD="false", GUARD_BACKEND="transformers", MODEL_STORE=str(settings.MODEL_STORE))
    with running_worker(name="present", queue="guard,guard-bulk", pool="threads", env=env):
        wait_for(lambda: guard_absence() is None, 10, "the worker's report")

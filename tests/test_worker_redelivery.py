"""A guard worker killed mid-task still leads to a completed decision (acks_late redelivery).

Real processes: two Celery guard workers in turn, over the real Redis broker and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from moderation_app.models import Decision
from moderation_app.services import api_key_create
from policies_app.services import policy_ensure_default
from tests.worker_processes import start_worker, wait_for, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _start_worker(name: str, lines: list[str]) -> subprocess.Popen[str]:
    env = worker_env(
        BROKER_VISIBILITY_TIMEOUT_S="3",
        GUARD_BACKEND="transformers",
        GUARD_MAX_THINK_TOKENS="800",  # long enough to be killed in the middle
        GUARD_MAX_CONTENT_TOKENS="2048",
        MODEL_STORE=str(settings.MODEL_STORE),
    )
    return start_worker(name=name, queue="guard,guard-bulk", pool="threads", env=env, lines=lines)


def test_a_decision_survives_its_worker_being_killed(active_tiny_model: Any) -> None:
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="svc", policy=policy, actor=None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    first_lines: list[str] = []
    first = _start_worker("doomed", first_lines)
    try:
        wait_for(lambda: any("ready." in line for line in first_lines), 120, "the first worker", first_lines)
        accepted = client.post("/api/v1/moderate", {"input": "Tell me a long story", "async": True}, format="json")
        decision_id = accepted.json()["id"]
        wait_for(lambda: any("received" in line for line in first_lines), 60, "the task to start", first_lines)
        time.sleep(1.0)  # inside the guard's generation by now
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert Decision.objects.get(pk=decision_id).status == "pending", "the task finished before the kill"

    second_lines: list[str] = []
    second = _start_worker("rescuer", second_lines)
    try:
        wait_for(
            lambda: Decision.objects.get(pk=decision_id).status == "completed",
            180,
            "the redelivered task to complete",
            second_lines,
        )
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(timeout=60)
    decision = Decision.objects.get(pk=decision_id)
    assert decision.verdict in ("safe", "unsafe")
    assert decision.model_version is not None
    assert decision.model_version.name == "tiny-random"

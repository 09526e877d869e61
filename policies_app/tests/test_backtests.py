"""Backtests through a real guard worker: a draft version judged over labelled cases, next to the published one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_ensure_default, policy_version_create

pytestmark = pytest.mark.django_db(transaction=True)
JBB = Path(__file__).resolve().parents[3] / "shared" / "data" / "jbb_behaviors.csv"


def test_a_backtest_reports_metrics_and_the_decisions_that_would_flip(
    guard_worker: Any, active_tiny_model: Any
) -> None:
    policy, _ = policy_ensure_default()
    assert policy.published_version is not None
    draft = policy_version_create(
        policy=policy,
        source=policy.published_version.source.replace("Core safety policy", "Core safety policy (strict)", 1),
        message="stricter title",
        actor=None,
    )
    call_command("import_cases", str(JBB), verbosity=0)
    editor = APIClient()
    editor.force_authenticate(UserFactory(roles=["policy_editor"]))
    started = editor.post(
        f"/api/v1/policies/core-safety/versions/{draft.number}/backtest/", {"sample": 12}, format="json"
    )
    assert started.status_code == 202, started.json()
    assert started.json()["baseline_version"] == 1
    deadline, body = time.monotonic() + 180, started.json()
    while body["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
        body = editor.get(f"/api/v1/policy-backtests/{body['id']}/").json()
    assert body["status"] == "completed", body
    assert body["cases_total"] == 12
    for metrics in (body["metrics"], body["baseline_metrics"]):
        assert metrics["n"] == 12
        assert metrics["tp"] + metrics["fp"] + metrics["fn"] + metrics["tn"] == 12
        assert 0.0 <= metrics["f1"] <= 1.0
    for flip in body["flips"]:
        assert flip["before"] != flip["after"]
        assert flip["label"] in ("safe", "unsafe")
    assert body["model_name"] == "tiny-random"


def test_a_backtest_without_cases_ends_in_a_clear_error() -> None:
    from policies_app.models import PolicyBacktest
    from policies_app.services import policy_backtest_execute

    policy, _ = policy_ensure_default()
    assert policy.published_version is not None
    backtest = PolicyBacktest.objects.create(version=policy.published_version)
    with pytest.raises(ValueError, match="no labelled cases"):
        policy_backtest_execute(backtest=backtest, cases=[], judge=lambda *_: ([], "unused"))
    backtest.refresh_from_db()
    assert backtest.status == "error"
    assert "import some" in backtest.error

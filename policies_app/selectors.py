from __future__ import annotations

import difflib

from django.db.models import Max, QuerySet

from config.errors import ApiError
from policies_app.models import Policy, PolicyBacktest, PolicyEvent, PolicyTestRun, PolicyVersion


def policy_list() -> QuerySet[Policy]:
    return Policy.objects.select_related("published_version").annotate(latest_number=Max("versions__number"))


def policy_get(*, slug: str) -> Policy:
    return _found(policy_list().filter(slug=slug).first(), slug=slug)


def policy_get_for_judging(*, slug: str) -> Policy:
    """The policy with its published version, and nothing else: the moderation API's lookup on every call."""
    return _found(Policy.objects.select_related("published_version").filter(slug=slug).first(), slug=slug)


def _found(policy: Policy | None, *, slug: str) -> Policy:
    if policy is None:
        raise ApiError(code="not_found", message=f"no policy '{slug}'", status_code=404)
    return policy


def policy_version_list(*, policy: Policy) -> QuerySet[PolicyVersion]:
    return policy.versions.select_related("author").order_by("-number")


def policy_version_get(*, policy: Policy, number: int) -> PolicyVersion:
    version = policy.versions.select_related("author").filter(number=number).first()
    if version is None:
        raise ApiError(code="not_found", message=f"policy '{policy.slug}' has no version {number}", status_code=404)
    return version


def policy_diff(*, policy: Policy, from_number: int, to_number: int) -> str:
    """A unified diff of two versions' sources, as `git diff` would show it."""
    old = policy_version_get(policy=policy, number=from_number)
    new = policy_version_get(policy=policy, number=to_number)
    lines = difflib.unified_diff(
        old.source.splitlines(keepends=True),
        new.source.splitlines(keepends=True),
        fromfile=f"{policy.slug}@{old.number}",
        tofile=f"{policy.slug}@{new.number}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def policy_event_list(*, policy: Policy) -> QuerySet[PolicyEvent]:
    return policy.events.select_related("actor", "version").order_by("-created_at", "-id")


def policy_test_run_list(*, version: PolicyVersion) -> QuerySet[PolicyTestRun]:
    return version.test_runs.select_related("version__policy").prefetch_related("results")


def policy_test_run_get(*, run_id: int) -> PolicyTestRun:
    run = PolicyTestRun.objects.select_related("version__policy").prefetch_related("results").filter(pk=run_id).first()
    if run is None:
        raise ApiError(code="not_found", message=f"no policy test run {run_id}", status_code=404)
    return run


def policy_backtest_list(*, version: PolicyVersion) -> QuerySet[PolicyBacktest]:
    return version.backtests.select_related("version__policy", "baseline")


def policy_backtest_get(*, backtest_id: int) -> PolicyBacktest:
    backtest = PolicyBacktest.objects.select_related("version__policy", "baseline").filter(pk=backtest_id).first()
    if backtest is None:
        raise ApiError(code="not_found", message=f"no policy backtest {backtest_id}", status_code=404)
    return backtest

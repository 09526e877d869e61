from __future__ import annotations

import difflib
import functools

from django.db.models import Max, QuerySet

from config.errors import found_or_404
from policies_app.models import Policy, PolicyBacktest, PolicyEvent, PolicyTestRun, PolicyVersion


def policy_list() -> QuerySet[Policy]:
    return Policy.objects.select_related("published_version").annotate(latest_number=Max("versions__number"))


def policy_get(*, slug: str) -> Policy:
    return found_or_404(policy_list().filter(slug=slug).first(), f"no policy '{slug}'")


def policy_get_for_judging(*, slug: str) -> Policy:
    """The policy with its published version, and nothing else: the moderation API's lookup on every call."""
    policy = Policy.objects.select_related("published_version").filter(slug=slug).first()
    return found_or_404(policy, f"no policy '{slug}'")


@functools.lru_cache(maxsize=256)
def policy_version_get_by_digest(*, version_id: int, sha256: str) -> PolicyVersion:
    """A version with its policy, read once per process: the guard worker's lookup on every task.

    Versions never change, so the row read once serves every later task. The digest is part of the
    key, so an id that names another version (a database emptied and filled again) is read anew.
    Its policy is as it was when read: use it for its slug, not for what is published now.
    Raises PolicyVersion.DoesNotExist when no version has that id and digest (nothing is kept then).
    """
    return PolicyVersion.objects.select_related("policy").get(pk=version_id, sha256=sha256)


def policy_version_published_list(*, limit: int) -> list[PolicyVersion]:
    """The published versions, newest first: what the guard worker warms its prefix cache with."""
    return list(PolicyVersion.objects.filter(pk__in=Policy.objects.values("published_version")).order_by("-pk")[:limit])


def policy_version_list(*, policy: Policy) -> QuerySet[PolicyVersion]:
    return policy.versions.select_related("author").order_by("-number")


def policy_version_get(*, policy: Policy, number: int) -> PolicyVersion:
    return found_or_404(
        policy.versions.select_related("author").filter(number=number).first(),
        f"policy '{policy.slug}' has no version {number}",
    )


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
    return found_or_404(
        PolicyTestRun.objects.select_related("version__policy").prefetch_related("results").filter(pk=run_id).first(),
        f"no policy test run {run_id}",
    )


def policy_backtest_list(*, version: PolicyVersion) -> QuerySet[PolicyBacktest]:
    return version.backtests.select_related("version__policy", "baseline")


def policy_backtest_get(*, backtest_id: int) -> PolicyBacktest:
    return found_or_404(
        PolicyBacktest.objects.select_related("version__policy", "baseline").filter(pk=backtest_id).first(),
        f"no policy backtest {backtest_id}",
    )

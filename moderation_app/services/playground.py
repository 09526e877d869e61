"""The playground: judge content against a policy version or an unsaved draft, for staff trying a policy out.

Playground runs are not stored. They never become decisions, so production lists, exports, metrics,
the review queue and the training data cannot see them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from celery.exceptions import TimeoutError as CeleryTimeoutError
from celery.result import AsyncResult
from django.conf import settings

from config.errors import ApiError
from policies_app.models import Policy
from policies_app.selectors import policy_version_get
from policies_app.services import source_sha256
from policies_app.spec import PolicySpecError, parse_policy
from training_worker.presence import GuardAbsent, guard_wait_slices


@dataclass(frozen=True)
class PlaygroundPolicy:
    """The spec to judge with, and how the answer names it (version None: an unsaved draft)."""

    slug: str
    version: int | None
    sha256: str
    spec: dict[str, Any]

    @property
    def draft(self) -> bool:
        return self.version is None


def playground_policy_resolve(*, policy: Policy, version: int | None, source: str | None) -> PlaygroundPolicy:
    """A draft source (validated like a new version), a pinned version, or the published one."""
    if source is not None:
        return PlaygroundPolicy(
            slug=policy.slug, version=None, sha256=source_sha256(source), spec=_draft_spec(policy, source)
        )
    if version is not None:
        pinned = policy_version_get(policy=policy, number=version)
        return PlaygroundPolicy(slug=policy.slug, version=pinned.number, sha256=pinned.sha256, spec=pinned.spec)
    published = policy.published_version
    if published is None:
        raise ApiError(
            code="not_published",
            message=f"policy '{policy.slug}' has no published version; pick a version or try a draft",
            status_code=409,
        )
    return PlaygroundPolicy(slug=policy.slug, version=published.number, sha256=published.sha256, spec=published.spec)


def _draft_spec(policy: Policy, source: str) -> dict[str, Any]:
    try:
        spec = parse_policy(source, max_bytes=settings.POLICY_MAX_SOURCE_BYTES, expected_id=policy.slug)
    except PolicySpecError as exc:
        raise ApiError(code="invalid_policy", message=str(exc), errors=[e.as_dict() for e in exc.errors]) from exc
    return dataclasses.asdict(spec)


def playground_judge(
    *, policy: PlaygroundPolicy, messages: list[dict[str, str]], target: str, reasoning: str
) -> dict[str, Any]:
    """Run the guard on a guard worker and wait up to GUARD_TIMEOUT_S (503 with Retry-After past it)."""
    from training_worker.tasks.guard import judge_playground

    started = time.perf_counter()
    timeout = settings.GUARD_TIMEOUT_S
    # A run nobody waits for any more is dropped by the worker instead of judged late.
    pending = judge_playground.apply_async(args=(policy.spec, messages, target, reasoning), expires=timeout + 5)
    try:
        judged = _judged(pending, deadline=time.monotonic() + timeout)
    except GuardAbsent as exc:
        pending.revoke()
        raise ApiError(
            code="guard_unavailable",
            message=f"{exc}; try again shortly",
            status_code=503,
            headers={"Retry-After": "30"},
        ) from None
    if judged is None:
        pending.revoke()
        raise _unavailable(f"no guard worker answered within {timeout:g}s; try again shortly")
    if pending.failed():
        raise _unavailable(f"the guard could not judge this: {pending.result}")
    return {
        **judged,
        "verdict": judged["verdict"] or None,
        "policy": {"slug": policy.slug, "version": policy.version, "sha256": policy.sha256, "draft": policy.draft},
        "latency_ms": (time.perf_counter() - started) * 1000,
    }


def _judged(pending: AsyncResult[Any], *, deadline: float) -> dict[str, Any] | None:
    """The run's result, or None by the deadline; `GuardAbsent` as soon as no guard worker can judge."""
    for until in guard_wait_slices(deadline=deadline):
        with contextlib.suppress(CeleryTimeoutError):
            judged: dict[str, Any] = pending.get(
                timeout=max(until - time.monotonic(), 0.01), interval=0.05, propagate=False
            )
            return judged
    return None


def _unavailable(message: str) -> ApiError:
    return ApiError(code="guard_timeout", message=message, status_code=503, headers={"Retry-After": "5"})

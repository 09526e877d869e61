"""Writes for policies: create, add a version, publish. Versions are never changed once written."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.actors import Actor
from config.errors import ApiError
from moderation_app.keycache import key_cache_forget
from policies_app.models import (
    Policy,
    PolicyBacktest,
    PolicyEvent,
    PolicyTestResult,
    PolicyTestRun,
    PolicyVersion,
)
from policies_app.spec import PolicySpec, PolicySpecError, parse_policy

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "default_policy.yaml"


def source_sha256(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _spec_json(spec: PolicySpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


def _parse(source: str, *, expected_id: str | None = None) -> PolicySpec:
    size, limit = len(source.encode("utf-8")), settings.POLICY_MAX_SOURCE_BYTES
    if size > limit:
        raise ApiError(
            code="too_large",
            message=f"policy source is {size:,} bytes; the limit is {limit:,} (POLICY_MAX_SOURCE_BYTES)",
            status_code=413,
        )
    try:
        return parse_policy(source, max_bytes=settings.POLICY_MAX_SOURCE_BYTES, expected_id=expected_id)
    except PolicySpecError as exc:
        raise ApiError(code="invalid_policy", message=str(exc), errors=[e.as_dict() for e in exc.errors]) from exc


@transaction.atomic
def policy_create(*, source: str, message: str, actor: Actor) -> Policy:
    spec = _parse(source)
    if Policy.objects.filter(slug=spec.id).exists():
        raise ApiError(
            code="policy_exists",
            message=f"a policy with id '{spec.id}' already exists; add a version to it instead",
            status_code=409,
        )
    policy = Policy.objects.create(slug=spec.id, title=spec.title, description=spec.description, created_by=actor)
    PolicyEvent.objects.create(policy=policy, kind=PolicyEvent.Kind.CREATED, actor=actor)
    policy_version_create(policy=policy, source=source, message=message, actor=actor)
    return policy


@transaction.atomic
def policy_version_create(*, policy: Policy, source: str, message: str, actor: Actor) -> PolicyVersion:
    # The row lock serialises concurrent saves, so each gets its own number.
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    spec = _parse(source, expected_id=locked.slug)
    latest = locked.versions.order_by("-number").first()
    digest = source_sha256(source)
    if latest is not None and latest.sha256 == digest:
        raise ApiError(
            code="unchanged",
            message=f"this source is identical to version {latest.number}; nothing to save",
            status_code=400,
        )
    version = PolicyVersion.objects.create(
        policy=locked,
        number=(latest.number + 1) if latest else 1,
        source=source,
        sha256=digest,
        spec=_spec_json(spec),
        parent=latest,
        author=actor,
        message=message,
    )
    Policy.objects.filter(pk=locked.pk).update(title=spec.title, description=spec.description)
    PolicyEvent.objects.create(policy=locked, version=version, kind=PolicyEvent.Kind.VERSION_CREATED, actor=actor)
    policy.refresh_from_db()
    return version


def publish_gate_failure(*, version: PolicyVersion) -> str | None:
    """Why the publish gate refuses this version, or None when it has no gate or a passing test run."""
    gate = version.spec.get("publish_gate")
    if not gate:
        return None
    run = version.test_runs.filter(status=PolicyTestRun.Status.COMPLETED).order_by("-finished_at", "-id").first()
    if run is None:
        return f"version {version.number} has no completed test run"
    if not run.passed:
        return (
            f"the latest test run of version {version.number} passed {run.passed_count}/{run.total} "
            f"({run.pass_rate or 0:.0%}), below the gate's {run.required_pass_rate:.0%}"
        )
    return None


def _was_published(version: PolicyVersion) -> bool:
    kinds = [PolicyEvent.Kind.PUBLISHED, PolicyEvent.Kind.ROLLED_BACK, PolicyEvent.Kind.PUBLISH_FORCED]
    return PolicyEvent.objects.filter(version=version, kind__in=kinds).exists()


@transaction.atomic
def policy_version_publish(
    *, policy: Policy, version: PolicyVersion, actor: Actor, note: str = "", force: bool = False
) -> Policy:
    """Make `version` the one the guard uses. Publishing an older version is recorded as a rollback.

    A version whose spec sets `publish_gate` needs a passing test run, unless it is forced with a
    note. Rolling back to a version that was live before skips the gate: rollback is the emergency exit.
    """
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    if version.policy_id != locked.pk:
        raise ApiError(code="wrong_policy", message="that version belongs to another policy", status_code=400)
    current = locked.published_version
    if current is not None and current.pk == version.pk:
        raise ApiError(
            code="already_published", message=f"version {version.number} is already published", status_code=409
        )
    rollback = current is not None and version.number < current.number
    kind = PolicyEvent.Kind.ROLLED_BACK if rollback else PolicyEvent.Kind.PUBLISHED
    refusal = None if rollback and _was_published(version) else publish_gate_failure(version=version)
    if refusal is not None:
        if not force:
            raise ApiError(
                code="publish_gate",
                message=f"publish gate: {refusal}. Run the policy tests, or force the publish with a note.",
                status_code=409,
            )
        if not note.strip():
            raise ApiError(code="invalid", message="note: forcing a publish past the gate needs a note")
        kind = PolicyEvent.Kind.PUBLISH_FORCED
        note = f"{note.strip()} (gate: {refusal})"
    locked.published_version = version
    locked.save(update_fields=["published_version"])
    # API keys are cached with their policy's published version (moderation_app/keycache.py).
    key_cache_forget(prefixes=locked.api_keys.values_list("prefix", flat=True))
    PolicyEvent.objects.create(policy=locked, version=version, kind=kind, actor=actor, note=note)
    policy.refresh_from_db()
    return policy


def policy_ensure_default(*, actor: Actor = None) -> tuple[Policy, bool]:
    """Load and publish the bundled default policy unless a policy with its id already exists."""
    source = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    slug = _parse(source).id
    existing = Policy.objects.filter(slug=slug).first()
    if existing is not None:
        return existing, False
    with transaction.atomic():
        policy = policy_create(source=source, message="Default policy shipped with the platform", actor=actor)
        version = policy.versions.get(number=1)
        # Its tests need a running guard worker, which first start has not got yet; the event says so.
        policy_version_publish(policy=policy, version=version, actor=actor, note="loaded on first run", force=True)
    return policy, True


@dataclass(frozen=True)
class Judgement:
    """What the guard said about one test input (verdict None: malformed output)."""

    verdict: str | None
    categories: list[str]
    score: float
    reasoning: str


# (spec, [(input, target), ...]) -> one Judgement per input, and the name of the model that judged.
JudgeFn = Callable[[dict[str, Any], list[tuple[str, str]]], tuple[list[Judgement], str]]


def policy_test_run_create(*, version: PolicyVersion, actor: Actor, enqueue: bool = True) -> PolicyTestRun:
    """Record a run of the version's tests; with `enqueue`, a guard worker picks it up after commit."""
    tests = version.spec.get("tests") or []
    if not tests:
        raise ApiError(code="no_tests", message=f"version {version.number} has no tests to run")
    gate = version.spec.get("publish_gate") or {}
    run = PolicyTestRun.objects.create(
        version=version,
        total=len(tests),
        required_pass_rate=float(gate.get("min_pass_rate", 1.0)),
        created_by=actor,
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue_policy_tests(run.pk))
    return run


def _enqueue_policy_tests(run_id: int) -> None:
    from training_worker.tasks.guard import run_policy_tests

    run_policy_tests.delay(run_id)


def policy_test_passed(test: Mapping[str, Any], judgement: Judgement) -> bool:
    """A test passes when the verdict is the expected one and every expected category was given."""
    if judgement.verdict != test["expect"]:
        return False
    return set(test.get("categories") or ()) <= set(judgement.categories)


def policy_test_run_execute(*, run: PolicyTestRun, judge: JudgeFn) -> PolicyTestRun:
    """Run the version's tests through `judge` and record a result per test."""
    PolicyTestRun.objects.filter(pk=run.pk).update(status=PolicyTestRun.Status.RUNNING, started_at=timezone.now())
    spec = run.version.spec
    tests = spec.get("tests") or []
    try:
        judgements, model_name = judge(spec, [(t["input"], t.get("target", "prompt")) for t in tests])
    except Exception as exc:
        PolicyTestRun.objects.filter(pk=run.pk).update(
            status=PolicyTestRun.Status.ERROR, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        raise
    results = [
        PolicyTestResult(
            run=run,
            index=index,
            name=test.get("name") or "",
            input=test["input"],
            target=test.get("target", "prompt"),
            expected=test["expect"],
            expected_categories=list(test.get("categories") or []),
            got=judgement.verdict or "malformed",
            categories=judgement.categories,
            score=judgement.score,
            reasoning=judgement.reasoning,
            passed=policy_test_passed(test, judgement),
        )
        for index, (test, judgement) in enumerate(zip(tests, judgements, strict=True))
    ]
    with transaction.atomic():
        PolicyTestResult.objects.bulk_create(results)
        passed = sum(r.passed for r in results)
        PolicyTestRun.objects.filter(pk=run.pk).update(
            status=PolicyTestRun.Status.COMPLETED,
            passed_count=passed,
            pass_rate=passed / len(results) if results else 0.0,
            model_name=model_name,
            finished_at=timezone.now(),
        )
    run.refresh_from_db()
    return run


@dataclass(frozen=True)
class LabelledCase:
    id: int
    messages: list[dict[str, str]]
    target: str
    label: str


# (spec, [(messages, target), ...], reasoning) -> one Judgement per conversation, and the model's name.
ConversationJudgeFn = Callable[
    [dict[str, Any], list[tuple[list[dict[str, str]], str]], str], tuple[list[Judgement], str]
]
MAX_FLIPS_KEPT = 500


def policy_backtest_create(
    *, version: PolicyVersion, actor: Actor, sample_size: int | None = None, reasoning: str = "none"
) -> PolicyBacktest:
    """Queue a backtest of `version` against the published version (when that is another one)."""
    published = version.policy.published_version
    backtest = PolicyBacktest.objects.create(
        version=version,
        baseline=published if published is not None and published.pk != version.pk else None,
        sample_size=sample_size,
        reasoning=reasoning,
        created_by=actor,
    )
    transaction.on_commit(lambda: _enqueue_backtest(backtest.pk))
    return backtest


def _enqueue_backtest(backtest_id: int) -> None:
    from training_worker.tasks.guard import run_backtest

    run_backtest.delay(backtest_id)


def policy_backtest_execute(
    *, backtest: PolicyBacktest, cases: list[LabelledCase], judge: ConversationJudgeFn
) -> PolicyBacktest:
    from training_worker.evaluation import binary_metrics

    PolicyBacktest.objects.filter(pk=backtest.pk).update(
        status=PolicyBacktest.Status.RUNNING, started_at=timezone.now(), cases_total=len(cases)
    )
    try:
        if not cases:
            raise ValueError("there are no labelled cases: import some (POST /api/v1/cases/import/) or review")
        conversations = [(case.messages, case.target) for case in cases]
        labels = [case.label for case in cases]
        judged, model_name = judge(backtest.version.spec, conversations, backtest.reasoning)
        metrics = binary_metrics(labels, [j.verdict for j in judged])
        baseline_metrics: dict[str, Any] = {}
        flips: list[dict[str, Any]] = []
        if backtest.baseline is not None:
            before, _ = judge(backtest.baseline.spec, conversations, backtest.reasoning)
            baseline_metrics = binary_metrics(labels, [j.verdict for j in before])
            flips = [
                {
                    "case": case.id,
                    "content": case.messages[-1]["content"][:300],
                    "label": case.label,
                    "before": old.verdict or "malformed",
                    "after": new.verdict or "malformed",
                    "score_before": old.score,
                    "score_after": new.score,
                }
                for case, old, new in zip(cases, before, judged, strict=True)
                if old.verdict != new.verdict
            ]
    except Exception as exc:
        PolicyBacktest.objects.filter(pk=backtest.pk).update(
            status=PolicyBacktest.Status.ERROR, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        raise
    PolicyBacktest.objects.filter(pk=backtest.pk).update(
        status=PolicyBacktest.Status.COMPLETED,
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        flips=flips[:MAX_FLIPS_KEPT],
        model_name=model_name,
        finished_at=timezone.now(),
    )
    backtest.refresh_from_db()
    return backtest

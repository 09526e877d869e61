"""Writes for policies: create, add a version, publish. Versions are never changed once written."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from config.actors import Actor
from config.errors import ApiError
from policies_app.models import Policy, PolicyEvent, PolicyVersion
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


@transaction.atomic
def policy_version_publish(*, policy: Policy, version: PolicyVersion, actor: Actor, note: str = "") -> Policy:
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    if version.policy_id != locked.pk:
        raise ApiError(code="wrong_policy", message="that version belongs to another policy", status_code=400)
    current = locked.published_version
    if current is not None and current.pk == version.pk:
        raise ApiError(
            code="already_published", message=f"version {version.number} is already published", status_code=409
        )
    kind = (
        PolicyEvent.Kind.ROLLED_BACK
        if current is not None and version.number < current.number
        else PolicyEvent.Kind.PUBLISHED
    )
    locked.published_version = version
    locked.save(update_fields=["published_version"])
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
        policy_version_publish(policy=policy, version=version, actor=actor, note="loaded on first run")
    return policy, True

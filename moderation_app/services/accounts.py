"""Writes for API keys and staff accounts."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone

from config.actors import Actor
from config.errors import ApiError
from moderation_app.keycache import key_cache_forget, key_cache_put
from moderation_app.models import ApiKey, ApiKeyEvent
from moderation_app.selectors import KEY_PREFIX, api_key_hash
from moderation_app.services.webhooks import webhook_url_problem
from policies_app.models import Policy

LAST_USED_RESOLUTION = timedelta(minutes=1)
WEBHOOK_URL_MAX = ApiKey._meta.get_field("webhook_url").max_length or 200
RATE_LIMIT_MAX = 2_147_483_647  # the column's 32-bit range


def api_key_create(
    *,
    name: str,
    policy: Policy | None,
    actor: Actor,
    rate_limit_per_minute: int | None = None,
    webhook_url: str = "",
) -> tuple[ApiKey, str]:
    """Create a key; the returned token is the only time the secret exists in clear."""
    name = _checked_name(name)
    rate = _checked_rate(rate_limit_per_minute or settings.API_KEY_DEFAULT_RATE_PER_MINUTE)
    _check_webhook_url(webhook_url)
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            prefix=prefix,
            key_hash=api_key_hash(token),
            policy=policy,
            rate_limit_per_minute=rate,
            webhook_url=webhook_url,
            webhook_secret=_new_webhook_secret() if webhook_url else "",
            created_by=actor,
        )
        _event(key, kind=ApiKeyEvent.Kind.CREATED, actor=actor, changes=_diff(ApiKey(), key))
    return key, token


_UNCHANGED: Any = object()
# What a key's audit trail records of a change: never its hash nor its webhook secret.
_AUDITED = ("name", "policy", "rate_limit_per_minute", "webhook_url")


def api_key_update(
    *,
    api_key: ApiKey,
    actor: Actor,
    name: str = _UNCHANGED,
    policy: Policy | None = _UNCHANGED,
    rate_limit_per_minute: int = _UNCHANGED,
    webhook_url: str = _UNCHANGED,
) -> tuple[ApiKey, str | None]:
    """Change what a service's key does without handing the service a new key: its name, default
    policy, rate limit or webhook; arguments left out stay as they are. Returns the key and, when it
    gained a webhook, the new signing secret (the only time it is shown). A revoked key stays as it
    was revoked (409). Calls authenticated from the cache see the change at once."""
    wanted: dict[str, Any] = {}
    if name is not _UNCHANGED:
        wanted["name"] = _checked_name(name)
    if policy is not _UNCHANGED:
        wanted["policy"] = policy
    if rate_limit_per_minute is not _UNCHANGED:
        wanted["rate_limit_per_minute"] = _checked_rate(rate_limit_per_minute)
    if webhook_url is not _UNCHANGED:
        _check_webhook_url(webhook_url)
        wanted["webhook_url"] = webhook_url
    with transaction.atomic():
        locked = _active_locked(api_key)
        before = ApiKey(**{field: getattr(locked, field) for field in _AUDITED})
        new_secret = None
        if "webhook_url" in wanted and not wanted["webhook_url"]:
            wanted["webhook_secret"] = ""  # pending deliveries are skipped: the key lost its webhook
        elif wanted.get("webhook_url") and not locked.webhook_url:
            new_secret = wanted["webhook_secret"] = _new_webhook_secret()
        for field, value in wanted.items():
            setattr(locked, field, value)
        changes = _diff(before, locked)
        if changes:
            locked.save(update_fields=[*wanted])
            _event(locked, kind=ApiKeyEvent.Kind.UPDATED, actor=actor, changes=changes)
            key_cache_forget(prefixes=[locked.prefix])
    return locked, new_secret


def api_key_rotate_webhook_secret(*, api_key: ApiKey, actor: Actor) -> tuple[ApiKey, str]:
    """A new secret for signing the key's webhook deliveries, for when the old one may have leaked:
    every delivery from now on, pending ones included, is signed with it. Returns it, the only time
    it is shown."""
    with transaction.atomic():
        locked = _active_locked(api_key)
        if not locked.webhook_url:
            raise ApiError(code="no_webhook", message="this API key has no webhook to sign", status_code=409)
        locked.webhook_secret = _new_webhook_secret()
        locked.save(update_fields=["webhook_secret"])
        _event(locked, kind=ApiKeyEvent.Kind.WEBHOOK_SECRET_ROTATED, actor=actor)
        key_cache_forget(prefixes=[locked.prefix])
    return locked, locked.webhook_secret


def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    """Refuse the key's next call. Revoking a revoked key changes nothing."""
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            _event(locked, kind=ApiKeyEvent.Kind.REVOKED, actor=actor)
            key_cache_forget(prefixes=[locked.prefix])
    api_key.revoked_at = locked.revoked_at
    return locked


def _event(key: ApiKey, *, kind: str, actor: Actor, changes: dict[str, list[Any]] | None = None) -> None:
    ApiKeyEvent.objects.create(api_key=key, kind=kind, actor=actor, changes=changes or {})


def _diff(before: ApiKey, after: ApiKey) -> dict[str, list[Any]]:
    """The audited fields that differ, as [old, new]; a policy by its slug."""

    def shown(key: ApiKey, field: str) -> Any:
        if field == "policy":
            return key.policy.slug if key.policy_id is not None and key.policy is not None else None
        return getattr(key, field)

    return {
        field: [shown(before, field), shown(after, field)]
        for field in _AUDITED
        if shown(before, field) != shown(after, field)
    }


def _active_locked(api_key: ApiKey) -> ApiKey:
    locked = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if locked.revoked_at is not None:
        raise ApiError(code="revoked", message=f"API key {locked.prefix} is revoked", status_code=409)
    return locked


def _new_webhook_secret() -> str:
    return secrets.token_hex(32)


def _checked_name(name: str) -> str:
    if not name.strip():
        raise _field_error("name", "an API key needs a name")
    return name.strip()


def _checked_rate(rate: int) -> int:
    if rate < 1:
        raise _field_error("rate_limit_per_minute", "must be at least 1")
    if rate > RATE_LIMIT_MAX:
        raise _field_error("rate_limit_per_minute", f"must be at most {RATE_LIMIT_MAX:,}")
    return rate


def _check_webhook_url(url: str) -> None:
    problem = webhook_url_problem(url) if url else None
    if problem is None and len(url) > WEBHOOK_URL_MAX:
        problem = f"is longer than {WEBHOOK_URL_MAX} characters"
    if problem is not None:
        raise _field_error("webhook_url", problem)


def _field_error(field: str, problem: str) -> ApiError:
    message = f"{field}: {problem}"
    return ApiError(code="invalid", message=message, errors=[{"field": field, "message": problem, "code": "invalid"}])


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use, at most once a minute per key, so authentication does not write on every call."""
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        key_cache_put(key=api_key)  # else a cached copy would say "not used for a minute" on every call


def user_ensure_demo_admin(*, username: str, password_file: Path) -> tuple[AbstractUser, str, bool]:
    """The demo superuser for a local install: a random password, made once and kept in `password_file`."""
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(username=username).first()
        if user is not None and password_file.exists():
            return user, password_file.read_text(encoding="utf-8").strip(), False
        password = secrets.token_urlsafe(12)
        if user is None:
            user = User.objects.create_superuser(username=username, email="", password=password)
            created = True
        else:
            # The password file was lost: issue a new password rather than print one we cannot know.
            user.set_password(password)
            user.save(update_fields=["password"])
            created = False
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
    return user, password, created

"""Writes for API keys and staff accounts."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone

from config.actors import Actor
from config.errors import ApiError
from moderation_app.keycache import key_cache_forget, key_cache_put
from moderation_app.models import ApiKey
from moderation_app.selectors import KEY_PREFIX, api_key_hash
from moderation_app.services.webhooks import webhook_url_problem
from policies_app.models import Policy

LAST_USED_RESOLUTION = timedelta(minutes=1)
WEBHOOK_URL_MAX = ApiKey._meta.get_field("webhook_url").max_length or 200


def api_key_create(
    *,
    name: str,
    policy: Policy | None,
    actor: Actor,
    rate_limit_per_minute: int | None = None,
    webhook_url: str = "",
) -> tuple[ApiKey, str]:
    """Create a key; the returned token is the only time the secret exists in clear."""
    name = name.strip()
    if not name:
        raise ApiError(code="invalid", message="name: an API key needs a name")
    rate = rate_limit_per_minute or settings.API_KEY_DEFAULT_RATE_PER_MINUTE
    if rate < 1:
        raise ApiError(code="invalid", message="rate_limit_per_minute: must be at least 1")
    problem = webhook_url_problem(webhook_url) if webhook_url else None
    if problem is not None or len(webhook_url) > WEBHOOK_URL_MAX:
        message = f"webhook_url: {problem or f'is longer than {WEBHOOK_URL_MAX} characters'}"
        raise ApiError(
            code="invalid", message=message, errors=[{"field": "webhook_url", "message": message, "code": "invalid"}]
        )
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    token = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=api_key_hash(token),
        policy=policy,
        rate_limit_per_minute=rate,
        webhook_url=webhook_url,
        webhook_secret=secrets.token_hex(32) if webhook_url else "",
        created_by=actor,
    )
    return key, token


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        key_cache_forget(prefixes=[api_key.prefix])
    return api_key


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

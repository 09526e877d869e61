from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

from moderation_app.models import ApiKey
from moderation_app.selectors import api_key_get_by_token
from policies_app.models import Policy

pytestmark = pytest.mark.django_db


def _call(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_bootstrap_loads_the_default_policy_and_a_demo_admin_once(tmp_path: Path) -> None:
    with override_settings(VAR_DIR=tmp_path):
        first, _ = _call("bootstrap_demo")
        second, _ = _call("bootstrap_demo")
    assert "default policy 'core-safety' loaded and published" in first
    assert "default policy 'core-safety' present" in second
    password = (tmp_path / "demo_admin_password").read_text().strip()
    assert f"password {password}" in first
    assert f"password {password}" in second
    assert password != "admin"
    assert len(password) >= 12
    assert (tmp_path / "demo_admin_password").stat().st_mode & 0o777 == 0o600
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(password)
    policy = Policy.objects.get(slug="core-safety")
    assert policy.published_version is not None
    assert policy.published_version.number == 1


def test_bootstrap_issues_a_new_password_when_the_file_is_lost(tmp_path: Path) -> None:
    with override_settings(VAR_DIR=tmp_path):
        _call("bootstrap_demo")
        old = (tmp_path / "demo_admin_password").read_text().strip()
        (tmp_path / "demo_admin_password").unlink()
        _call("bootstrap_demo")
    new = (tmp_path / "demo_admin_password").read_text().strip()
    assert new != old
    assert get_user_model().objects.get(username="admin").check_password(new)


def test_create_api_key_prints_the_key_once_and_stores_its_hash(tmp_path: Path) -> None:
    with override_settings(VAR_DIR=tmp_path):
        _call("bootstrap_demo")
    token, note = _call("create_api_key", "chat-service", "--policy", "core-safety", "--rate-limit", "120")
    token = token.strip()
    key = api_key_get_by_token(token=token)
    assert key is not None
    assert key.name == "chat-service"
    assert key.rate_limit_per_minute == 120
    assert key.policy is not None
    assert key.policy.slug == "core-safety"
    assert key.prefix in note
    assert token not in note
    assert not ApiKey.objects.filter(key_hash=token).exists()


def test_create_api_key_names_the_known_policies_when_the_slug_is_wrong() -> None:
    with pytest.raises(CommandError, match="no policy 'nope' \\(known: none yet\\)"):
        _call("create_api_key", "svc", "--policy", "nope")


def test_revoke_api_key_stops_the_key(tmp_path: Path) -> None:
    with override_settings(VAR_DIR=tmp_path):
        _call("bootstrap_demo")
    token, _ = _call("create_api_key", "svc", "--policy", "core-safety")
    key = api_key_get_by_token(token=token.strip())
    assert key is not None
    _call("revoke_api_key", key.prefix)
    assert api_key_get_by_token(token=token.strip()) is None

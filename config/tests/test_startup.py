"""A bad environment stops every entry point with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY", "ALLOWED_HOSTS"))}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DJANGO_ENV": "production", "ALLOWED_HOSTS": "x.test"}, "SECRET_KEY (or SECRET_KEY_FILE) is required"),
        ({"DJANGO_ENV": "staging"}, "DJANGO_ENV='staging' must be one of"),
        ({"DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
        ({"DJANGO_ENV": "production", "SECRET_KEY": "k" * 40, "DEBUG": "true"}, "DEBUG must be off"),
        ({"DATABASE_URL": "mysql://root@localhost/x"}, "DATABASE_URL must be postgres:// or sqlite://"),
        ({"CELERY_BROKER_URL": "kafka://x"}, "CELERY_BROKER_URL must be"),
    ],
)
def test_it_refuses_to_start_with_a_bad_variable(env: dict[str, str], needle: str, tmp_path: Path) -> None:
    result = _run(["manage.py", "check"], VAR_DIR=str(tmp_path), **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("configuration error: ")
    assert needle in lines[0]


def test_the_worker_entry_point_refuses_too(tmp_path: Path) -> None:
    result = _run(["-c", "import config.celery"], VAR_DIR=str(tmp_path), DEBUG="perhaps")
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "configuration error: DEBUG='perhaps' is not a boolean (use true/false, 1/0, yes/no, on/off)"
    )


def test_debug_is_off_unless_asked_for(tmp_path: Path) -> None:
    # `make run` sets neither: an unhandled error answers the API's JSON 500, not Django's debug page.
    show = "from django.conf import settings; print(settings.DEBUG)"
    assert _run(["manage.py", "shell", "-v", "0", "-c", show], VAR_DIR=str(tmp_path)).stdout.strip() == "False"
    assert (
        _run(["manage.py", "shell", "-v", "0", "-c", show], VAR_DIR=str(tmp_path), DEBUG="true").stdout.strip()
        == "True"
    )


def test_production_requires_allowed_hosts(tmp_path: Path) -> None:
    result = _run(["manage.py", "check"], VAR_DIR=str(tmp_path), DJANGO_ENV="production", SECRET_KEY="k" * 40)
    assert result.returncode == 2
    assert "ALLOWED_HOSTS is required" in result.stderr


def test_the_standard_library_platform_module_is_not_shadowed() -> None:
    assert not (ROOT / "platform" / "__init__.py").exists()
    result = _run(["-c", "import uuid, platform; print(platform.system())"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Linux"


def test_development_makes_a_secret_key_once_and_keeps_it(tmp_path: Path) -> None:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = _run(
        ["-c", f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; {code}"],
        VAR_DIR=str(tmp_path),
    )
    second = _run(
        ["-c", f"import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings'; {code}"],
        VAR_DIR=str(tmp_path),
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert len(first.stdout.strip()) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600

"""The web process must stay light: nothing on its import path may load torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import django
from django.conf import settings
from config.wsgi import application
from django.urls import get_resolver
from django.test import Client
get_resolver().url_patterns  # import every view module
from config.celery import app
app.loader.import_default_modules()  # every tasks module the web process enqueues
client = Client()
for path in ("/healthz", "/api/schema/", "/api/v1/auth/me", "/"):
    client.get(path)
heavy = sorted(m for m in ("torch", "transformers", "vllm", "trl", "peft") if m in sys.modules)
print(",".join(heavy) or "none")
"""


def test_the_web_process_never_imports_torch() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "none"

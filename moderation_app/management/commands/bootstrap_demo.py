"""`manage.py bootstrap_demo` — first-run content for a local install: the default policy and a demo admin."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from moderation_app.services import user_ensure_demo_admin
from policies_app.services import policy_ensure_default

DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = "Load the default policy if missing, and create (or show) the demo admin login."

    def handle(self, *args: Any, **options: Any) -> None:
        policy, created = policy_ensure_default()
        self.stdout.write(f"default policy '{policy.slug}' {'loaded and published' if created else 'present'}")
        _, password, _ = user_ensure_demo_admin(
            username=DEMO_ADMIN, password_file=settings.VAR_DIR / "demo_admin_password"
        )
        self.stdout.write(f"demo admin login: username {DEMO_ADMIN}  password {password}")

"""`manage.py create_api_key NAME --policy SLUG` prints a new key once; only its hash is kept."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApiError
from moderation_app.services import api_key_create
from policies_app.models import Policy


class Command(BaseCommand):
    help = "Create an API key for a service. The key is printed once and cannot be shown again."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--policy", required=True, help="Slug of the policy used when a request names none.")
        parser.add_argument("--rate-limit", type=int, default=None, help="Requests per minute (default from settings).")
        parser.add_argument("--webhook-url", default="", help="Post decisions requested with async=true here.")

    def handle(self, *args: Any, **options: Any) -> None:
        policy = Policy.objects.filter(slug=options["policy"]).first()
        if policy is None:
            known = ", ".join(Policy.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"no policy '{options['policy']}' (known: {known})")
        try:
            key, token = api_key_create(
                name=options["name"],
                policy=policy,
                rate_limit_per_minute=options["rate_limit"],
                webhook_url=options["webhook_url"],
                actor=None,
            )
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from exc
        if key.webhook_secret:
            self.stderr.write(f"webhook secret (signs X-Arbiter-Signature; store it now): {key.webhook_secret}")
        self.stderr.write(f"API key '{key.name}' (prefix {key.prefix}, policy {policy.slug}). Store it now:")
        self.stdout.write(token)

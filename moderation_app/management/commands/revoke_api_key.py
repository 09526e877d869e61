"""`manage.py revoke_api_key PREFIX` — the key stops working at once."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from moderation_app.models import ApiKey
from moderation_app.services import api_key_revoke


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the part after 'ak_')."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        key = ApiKey.objects.filter(prefix=options["prefix"]).first()
        if key is None:
            raise CommandError(f"no API key with prefix '{options['prefix']}'")
        api_key_revoke(api_key=key, actor=None)
        self.stdout.write(f"revoked {key}")

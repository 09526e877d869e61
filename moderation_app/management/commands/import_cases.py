"""`manage.py import_cases FILE [--policy SLUG]` — labelled cases from CSV or JSONL; all or nothing."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApiError
from moderation_app.services import case_import_version, cases_import, parse_case_rows


class Command(BaseCommand):
    help = "Import labelled cases (CSV with a header, or JSONL). A file with any bad row imports nothing."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--policy", help="Check categories against this policy's published version.")
        parser.add_argument("--format", choices=["csv", "jsonl"], help="Default: from the file name.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        fmt = options["format"] or ("jsonl" if path.suffix in (".jsonl", ".ndjson") else "csv")
        try:
            content = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: cannot read: {exc}") from exc
        try:
            version = case_import_version(slug=options["policy"])
            report = cases_import(rows=parse_case_rows(content=content, fmt=fmt), policy_version=version)
        except ApiError as exc:
            lines = [
                f"{path}:{e['line']}: {e['field']}: {e['message']}"
                if e["field"]
                else f"{path}:{e['line']}: {e['message']}"
                for e in (exc.errors or [])[:50]
            ]
            raise CommandError("\n".join(lines) or str(exc.detail)) from exc
        self.stdout.write(
            f"{path}: imported {report.imported} case(s), skipped {report.duplicates} already stored, of {report.total}"
        )

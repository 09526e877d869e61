"""`manage.py policy validate|push|pull|list|diff|test` — policies as files in a git repository.

`validate` prints `file:line: message` and exits 1 on any error, so it works as a pre-commit hook
or a CI step.
"""

from __future__ import annotations

import sys
import time
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.errors import ApiError
from policies_app.models import Policy, PolicyTestRun
from policies_app.selectors import policy_diff, policy_get, policy_list, policy_version_get
from policies_app.services import (
    policy_create,
    policy_test_run_create,
    policy_test_run_execute,
    policy_version_create,
    policy_version_publish,
)
from policies_app.spec import parse_policy, validate_policy


class Command(BaseCommand):
    help = "Validate, push, pull, list and diff policies."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        validate = sub.add_parser("validate", help="Check policy files; exit 1 on errors.")
        validate.add_argument("files", nargs="+", type=Path)
        push = sub.add_parser("push", help="Save a file as a new version (creating the policy if needed).")
        push.add_argument("file", type=Path)
        push.add_argument("--message", "-m", default="")
        push.add_argument("--publish", action="store_true")
        pull = sub.add_parser("pull", help="Print a version's source (default: the latest).")
        pull.add_argument("slug")
        pull.add_argument("--version", type=int)
        sub.add_parser("list", help="List policies.")
        test = sub.add_parser("test", help="Run a version's tests through the guard; exit 1 unless they pass.")
        test.add_argument("slug")
        test.add_argument("--version", type=int, help="Default: the latest version.")
        test.add_argument("--local", action="store_true", help="Judge in this process instead of on a guard worker.")
        test.add_argument("--timeout", type=float, default=600.0, help="Seconds to wait for a guard worker.")
        diff = sub.add_parser("diff", help="Unified diff of two versions.")
        diff.add_argument("slug")
        diff.add_argument("a", type=int)
        diff.add_argument("b", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"])(**options)
        except ApiError as exc:
            details = "".join(
                f"\n  line {e.get('line') or '?'}: {e.get('path') or '(root)'}: {e['message']}"
                for e in exc.errors or []
            )
            raise CommandError(f"{exc.detail}{details}") from exc

    def _validate(self, *, files: list[Path], **_: Any) -> None:
        results = [self._read_valid(path) for path in files]
        if None in results:
            sys.exit(1)
        self.stdout.write(f"{len(files)} file(s) valid")

    def _read_valid(self, path: Path) -> str | None:
        """The file's source, or None after printing each problem as `file:line: path: message`."""
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.stdout.write(f"{path}: cannot read: {exc}")
            return None
        errors = validate_policy(source, max_bytes=settings.POLICY_MAX_SOURCE_BYTES)
        for error in errors:
            where = f"{path}:{error.line}" if error.line else str(path)
            path_part = f"{error.path}: " if error.path else ""
            self.stdout.write(f"{where}: {path_part}{error.message}")
        return None if errors else source

    def _push(self, *, file: Path, message: str, publish: bool, **_: Any) -> None:
        source = self._read_valid(file)
        if source is None:
            sys.exit(1)
        slug = parse_policy(source, max_bytes=settings.POLICY_MAX_SOURCE_BYTES).id
        existing = Policy.objects.filter(slug=slug).first()
        if existing is None:
            policy = policy_create(source=source, message=message, actor=None)
            version = policy.versions.get(number=1)
        else:
            policy = existing
            version = policy_version_create(policy=policy, source=source, message=message, actor=None)
        self.stdout.write(f"{slug}: saved version {version.number} ({version.sha256[:12]})")
        if publish:
            policy_version_publish(policy=policy, version=version, actor=None, note=message)
            self.stdout.write(f"{slug}: published version {version.number}")

    def _pull(self, *, slug: str, version: int | None, **_: Any) -> None:
        policy = policy_get(slug=slug)
        number = version or policy.versions.order_by("-number").values_list("number", flat=True).first()
        if number is None:
            raise CommandError(f"policy '{slug}' has no versions")
        # Written byte for byte, so the pulled file has the same sha256 as the pushed one.
        self.stdout.write(policy_version_get(policy=policy, number=number).source, ending="")

    def _test(self, *, slug: str, version: int | None, local: bool, timeout: float, **_: Any) -> None:
        policy = policy_get(slug=slug)
        number = version or policy.versions.order_by("-number").values_list("number", flat=True).first()
        if number is None:
            raise CommandError(f"policy '{slug}' has no versions")
        target = policy_version_get(policy=policy, number=number)
        run = policy_test_run_create(version=target, actor=None, enqueue=not local)
        if local:
            from training_worker.tasks.guard import judge_policy_tests

            run = policy_test_run_execute(run=run, judge=judge_policy_tests)
        else:
            self.stderr.write(f"test run {run.pk} queued for a guard worker")
            run = self._wait(run, timeout)
        self._report(run)
        if not run.passed:
            sys.exit(1)

    def _wait(self, run: PolicyTestRun, timeout: float) -> PolicyTestRun:
        deadline = time.monotonic() + timeout
        while run.status in (PolicyTestRun.Status.QUEUED, PolicyTestRun.Status.RUNNING):
            if time.monotonic() > deadline:
                raise CommandError(f"no guard worker finished test run {run.pk} within {timeout:.0f}s (try --local)")
            time.sleep(0.5)
            run.refresh_from_db()
        return run

    def _report(self, run: PolicyTestRun) -> None:
        for result in run.results.all():
            mark = "PASS" if result.passed else "FAIL"
            cats = f" [{', '.join(result.categories)}]" if result.categories else ""
            self.stdout.write(
                f"{mark}  expected {result.expected:6}  got {result.got:9}{cats:12} "
                f"score {result.score:.3f}  {result.input[:60]!r}"
            )
        if run.status == PolicyTestRun.Status.ERROR:
            raise CommandError(f"test run {run.pk} failed: {run.error}")
        verdict = "passed" if run.passed else "FAILED"
        self.stdout.write(
            f"{run.version.policy.slug}@{run.version.number}: {run.passed_count}/{run.total} "
            f"({run.pass_rate or 0:.0%}, needs {run.required_pass_rate:.0%}) {verdict} with {run.model_name}"
        )

    def _list(self, **_: Any) -> None:
        for policy in policy_list():
            published = policy.published_version.number if policy.published_version else "-"
            latest = getattr(policy, "latest_number", None) or "-"
            self.stdout.write(f"{policy.slug:32} latest {latest:>4}  published {published:>4}  {policy.title}")

    def _diff(self, *, slug: str, a: int, b: int, **_: Any) -> None:
        self.stdout.write(policy_diff(policy=policy_get(slug=slug), from_number=a, to_number=b), ending="")

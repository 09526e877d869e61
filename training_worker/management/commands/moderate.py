"""`manage.py moderate --policy SLUG [--reasoning none] "text"` — judge one text in this process."""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApiError
from policies_app.selectors import policy_get, policy_version_get
from training_worker.guard.runtime import GuardUnavailable, get_runtime
from training_worker.guard.template import Message
from training_worker.guard.types import GuardRequest


def positive_int(text: str) -> int:
    """argparse's type for a version number: 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise ArgumentTypeError(f"must be a version number (1 or more), not {text!r}")
    return int(text)


class Command(BaseCommand):
    help = "Judge a text against a policy with the active guard model and print the decision."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("text")
        parser.add_argument("--policy", required=True)
        parser.add_argument("--policy-version", type=positive_int, help="Default: the published version.")
        parser.add_argument("--reasoning", choices=["full", "none"], default="full")
        parser.add_argument("--target", choices=["prompt", "response"], default="prompt")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["text"].strip():
            raise CommandError("the text to judge is empty")
        try:
            policy = policy_get(slug=options["policy"])
            if options["policy_version"] is not None:
                version = policy_version_get(policy=policy, number=options["policy_version"])
            elif policy.published_version is None:
                raise CommandError(f"policy '{policy.slug}' has no published version; pass --policy-version")
            else:
                version = policy.published_version
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from exc
        role = "assistant" if options["target"] == "response" else "user"
        request = GuardRequest(
            spec=version.spec,
            messages=(Message(role, options["text"]),),
            target=options["target"],
            reasoning=options["reasoning"],
        )
        try:
            result, model = get_runtime().judge(request)
        except GuardUnavailable as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"verdict:    {result.verdict or 'malformed (flagged)'}")
        self.stdout.write(f"flagged:    {result.flagged}")
        self.stdout.write(f"score:      {result.score:.4f}  (P(unsafe))")
        self.stdout.write(f"categories: {', '.join(result.categories) or '-'}")
        self.stdout.write(f"policy:     {policy.slug}@{version.number} ({version.sha256[:12]})")
        self.stdout.write(f"model:      {model.name}  latency {result.inference_ms:.0f} ms")
        self.stdout.write(f"reasoning:  {result.reasoning or '(none)'}")
        if result.error:
            self.stdout.write(f"malformed:  {result.error}")

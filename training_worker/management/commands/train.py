"""`manage.py train [--steps N] [--config JSON] [--wait]` — start a training run, as the API does."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApiError
from training_worker.models import TrainingRun
from training_worker.services import training_run_create, training_run_execute


class Command(BaseCommand):
    help = "Start a training run of the guard (one at a time). It goes to the train worker unless --wait."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--steps", type=int, help="GRPO steps (default: the training defaults).")
        parser.add_argument("--config", default="{}", help="JSON overrides, e.g. '{\"learning_rate\": 1e-5}'.")
        parser.add_argument(
            "--wait", "--inline", action="store_true", help="Run it in this process and print the outcome."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            overrides = json.loads(options["config"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--config is not JSON: {exc}") from exc
        if not isinstance(overrides, dict):
            raise CommandError("--config must be a JSON object")
        wait = bool(options["wait"])
        try:
            run = training_run_create(steps=options["steps"], config=overrides, enqueue=not wait)
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from exc
        if not wait:
            self.stdout.write(f"training run {run.pk} queued for the train worker")
            return
        self.stdout.write(f"training run {run.pk} running here")
        run = training_run_execute(run=run)
        self._report(run)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise CommandError(f"training run {run.pk} failed: {run.error}")

    def _report(self, run: TrainingRun) -> None:
        self.stdout.write(f"training run {run.pk}: {run.status} in {run.duration_s or 0:.0f} s")
        self.stdout.write(f"dataset: {json.dumps(run.dataset)}")
        for label, evaluation in (("before", run.eval_before), ("after", run.eval_after)):
            if evaluation:
                tests = evaluation.get("policy_tests") or {}
                self.stdout.write(
                    f"{label}: F1 {evaluation.get('f1', 0):.3f}, format rate {evaluation.get('format_rate', 0):.2f}, "
                    f"policy tests {tests.get('passed', 0)}/{tests.get('total', 0)}"
                )
        if run.gate:
            verdict = "promoted" if run.gate.get("promoted") else "kept as candidate"
            self.stdout.write(f"gate: {verdict}: {run.gate.get('reason')}")

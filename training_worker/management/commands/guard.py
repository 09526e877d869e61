"""`manage.py guard install-default | register PATH_OR_HUB_ID | activate NAME | list` — the model registry."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from training_worker.guard.backends.base import BackendError, model_directory_check
from training_worker.model_store import ModelStoreError, model_source_resolve
from training_worker.models import ModelVersion
from training_worker.selectors import model_version_list
from training_worker.services import model_install_default, model_version_activate, model_version_register


class Command(BaseCommand):
    help = "Manage the guard models the workers load."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("install-default", help="Convert, register and activate the packaged SmolLM2.")
        register = sub.add_parser("register", help="Register a local model directory or a hub id.")
        register.add_argument(
            "path_or_id", help="A model directory, or a hub id (owner/name) in the local Hugging Face cache."
        )
        register.add_argument("--name", help="Registry name (default: derived from the path).")
        register.add_argument("--activate", action="store_true")
        activate = sub.add_parser("activate", help="Make a registered model the active one.")
        activate.add_argument("name")
        activate.add_argument(
            "--skip-check",
            action="store_true",
            help="Activate without checking the model's directory here (where workers read models elsewhere).",
        )
        sub.add_parser("list", help="List registered models.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "install-default":
            try:
                model, did_work = model_install_default(store=settings.MODEL_STORE)
            except ModelStoreError as exc:
                raise CommandError(str(exc)) from exc
            state = "installed" if did_work else "already installed"
            self.stdout.write(f"default model {state}: {model.name} ({model.status}) at {model.path}")
        elif action == "register":
            source = options["path_or_id"]
            name = options["name"] or source.rstrip("/").split("/")[-1]
            if ModelVersion.objects.filter(name=name).exists():
                raise CommandError(f"a model named '{name}' is already registered; pass --name")
            try:
                path = model_source_resolve(source)
            except ModelStoreError as exc:
                raise CommandError(str(exc)) from exc
            model = model_version_register(name=name, base=source, path=str(path))
            if options["activate"]:
                model = model_version_activate(model_version=model)
            self.stdout.write(f"registered {model.name} ({model.status})")
        elif action == "activate":
            chosen = ModelVersion.objects.filter(name=options["name"]).first()
            if chosen is None:
                raise CommandError(f"no model named '{options['name']}'")
            if not options["skip_check"]:
                try:
                    model_directory_check(model_path=chosen.path)
                except BackendError as exc:
                    # Activated, it would retire the working model, and every worker would fail to load it.
                    raise CommandError(f"{exc}; not activated (--skip-check if workers read it elsewhere)") from exc
            self.stdout.write(f"active: {model_version_activate(model_version=chosen).name}")
        else:
            for model in model_version_list():
                self.stdout.write(f"{model.status:10} {model.name:40} {model.path}")

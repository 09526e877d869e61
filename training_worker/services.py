"""Writes for the model registry."""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.utils import timezone

from training_worker.guard import TEMPLATE_VERSION
from training_worker.model_store import (
    PACKAGED_BASE,
    PACKAGED_NAME,
    convert_gguf,
    is_converted,
    packaged_gguf_path,
)
from training_worker.models import ModelVersion


def model_version_register(
    *,
    name: str,
    base: str,
    path: str,
    source: str = ModelVersion.Source.REGISTERED,
    template_version: str = TEMPLATE_VERSION,
    parent: ModelVersion | None = None,
) -> ModelVersion:
    return ModelVersion.objects.create(
        name=name, base=base, path=path, source=source, template_version=template_version, parent=parent
    )


@transaction.atomic
def model_version_activate(*, model_version: ModelVersion) -> ModelVersion:
    """Make this the one active model; the previously active one is retired (and can be re-activated)."""
    locked = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
    if locked.status == ModelVersion.Status.ACTIVE:
        return locked
    ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).update(status=ModelVersion.Status.RETIRED)
    locked.status = ModelVersion.Status.ACTIVE
    locked.activated_at = timezone.now()
    locked.save(update_fields=["status", "activated_at"])
    return locked


def model_install_default(*, store: Path) -> tuple[ModelVersion, bool]:
    """Convert the packaged SmolLM2 into `store` once, register it and activate it if nothing is active.

    Returns the model and whether any work was done. Rerunning is cheap: it only checks files and rows.
    """
    target = store / PACKAGED_NAME
    did_work = False
    if not is_converted(target):
        store.mkdir(parents=True, exist_ok=True)
        convert_gguf(gguf_path=packaged_gguf_path(), target=target)
        did_work = True
    model = ModelVersion.objects.filter(name=PACKAGED_NAME).first()
    if model is None:
        model = model_version_register(
            name=PACKAGED_NAME, base=PACKAGED_BASE, path=str(target), source=ModelVersion.Source.PACKAGED
        )
        did_work = True
    if not ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists():
        model = model_version_activate(model_version=model)
        did_work = True
    return model, did_work

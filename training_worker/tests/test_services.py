from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.db import IntegrityError

from training_worker.model_store import PACKAGED_NAME, is_converted
from training_worker.models import ModelVersion
from training_worker.selectors import model_version_active
from training_worker.services import model_install_default, model_version_activate, model_version_register

pytestmark = pytest.mark.django_db


def test_activating_a_model_retires_the_previous_one() -> None:
    first = model_version_activate(model_version=model_version_register(name="a", base="a", path="/m/a"))
    second = model_version_activate(model_version=model_version_register(name="b", base="b", path="/m/b"))
    first.refresh_from_db()
    assert (first.status, second.status) == ("retired", "active")
    assert model_version_active() == second
    # Rolling back is activating the old one again.
    assert model_version_activate(model_version=first).status == "active"
    assert ModelVersion.objects.filter(status="active").count() == 1


def test_the_database_refuses_two_active_models() -> None:
    model_version_activate(model_version=model_version_register(name="a", base="a", path="/m/a"))
    with pytest.raises(IntegrityError):
        ModelVersion.objects.create(
            name="b", base="b", path="/m/b", template_version="x", source="registered", status="active"
        )


@pytest.mark.slow
def test_install_default_converts_the_packaged_model_once() -> None:
    store = Path(settings.MODEL_STORE)
    model, _ = model_install_default(store=store)
    assert model.status == "active"
    assert model.name == PACKAGED_NAME
    assert is_converted(Path(model.path))
    assert (Path(model.path) / "config.json").is_file()
    again, did_work = model_install_default(store=store)
    assert again == model
    assert did_work is False

"""End to end in a real browser: an ML engineer rolls back the guard model and starts a training run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from moderation_app.tests.factories import UserFactory
from tests.browser import browser_page
from tests.browser_flows import sign_in, unexpected_errors
from training_worker.models import ModelVersion, TrainingRun
from training_worker.selectors import model_version_active
from training_worker.services import model_version_activate, model_version_register, training_run_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def _two_models(tmp_path: Path) -> tuple[ModelVersion, ModelVersion]:
    older = model_version_register(name="guard-2026-10", base="tiny", path=str(tmp_path / "a"), metrics={"f1": 0.6})
    model_version_activate(model_version=older)
    newer = model_version_register(name="guard-2026-11", base="tiny", path=str(tmp_path / "b"), metrics={"f1": 0.7})
    return older, model_version_activate(model_version=newer)


def test_an_ml_engineer_rolls_back_to_the_previous_model_after_confirming(live_server: Any, tmp_path: Path) -> None:
    older, newer = _two_models(tmp_path)
    UserFactory(username="mia", roles=["ml_engineer"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "mia")
        page.get_by_role("link", name="Models").click()
        row = page.locator(f'[data-model-name="{older.name}"]')
        assert "0.600" in row.inner_text()
        row.get_by_role("button", name="Roll back to this").click()
        assert "It replaces guard-2026-11" in page.get_by_role("dialog").inner_text()
        assert model_version_active() == newer  # nothing happens before the confirmation

        page.get_by_test_id("confirm-activate").click()
        page.get_by_text("guard-2026-10 is now the active model").wait_for()
        row.get_by_text("active", exact=True).wait_for()  # the table reloads with the new state
        assert "Roll back" not in row.inner_text()
        assert unexpected_errors(errors) == []
    assert model_version_active() == older


def test_starting_a_run_while_one_is_queued_is_refused_in_place(live_server: Any, tmp_path: Path) -> None:
    _two_models(tmp_path)
    UserFactory(username="mia", roles=["ml_engineer"])
    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "mia")
        page.goto(f"{live_server.url}/training")
        page.get_by_text("No training run yet.").wait_for()

        page.get_by_label("Steps").fill("two")
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("Steps is a whole number from 1.").wait_for()
        assert not TrainingRun.objects.exists()

        queued = training_run_create(steps=5, enqueue=False)  # someone else started one meanwhile
        page.get_by_label("Steps").fill("3")
        page.get_by_role("button", name="Start training").click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "Could not start a training run" in alert.inner_text()
        assert f"training run {queued.pk} is queued" in alert.inner_text()
        assert unexpected_errors(errors, 409) == []
    assert list(TrainingRun.objects.values_list("pk", flat=True)) == [queued.pk]

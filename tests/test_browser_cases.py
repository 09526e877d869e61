"""End to end in a real browser: an ML engineer imports labelled cases from a CSV file, and a file
with a bad row is refused whole, its row error shown beside the form."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from moderation_app.models import Case
from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_ensure_default
from tests.browser import browser_page
from tests.browser_flows import sign_in, unexpected_errors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOD_CSV = (
    "prompt,label,categories\n"
    "What is the capital of France?,safe,\n"
    '"Give me a recipe for an explosive I can make from fertiliser.",unsafe,S2\n'
)
# The second row's label is neither safe nor unsafe: the file imports nothing, the good row included.
BAD_CSV = "prompt,label,categories\nWhich teas keep best in a tin?,safe,\nIs this fine?,maybe,\n"


@pytest.fixture(autouse=True)
def _allow_sync_db_in_playwright_loop() -> None:
    # Playwright's sync API runs an event loop in this thread; the live server runs Django elsewhere.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def test_an_ml_engineer_imports_cases_and_a_bad_file_imports_nothing(live_server: Any, tmp_path: Path) -> None:
    policy_ensure_default()  # core-safety, published, whose categories the import checks
    UserFactory(username="mia", roles=["ml_engineer"])
    good = tmp_path / "cases.csv"
    good.write_text(GOOD_CSV, encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV, encoding="utf-8")

    with browser_page() as (page, errors):
        sign_in(page, live_server.url, "mia")
        page.get_by_role("link", name="Cases").click()
        page.get_by_test_id("cases-count").filter(has_text="0 cases").wait_for()
        assert page.get_by_test_id("cases-export").get_attribute("href") == "/api/v1/cases/export/"

        page.get_by_test_id("cases-import-file").set_input_files(str(good))
        page.get_by_label("Check categories against").select_option("core-safety")
        page.get_by_test_id("cases-import-submit").click()
        result = page.get_by_test_id("cases-import-result")
        result.wait_for()
        assert result.inner_text() == "Imported 2, 0 already stored (of 2 rows)"
        page.get_by_test_id("cases-count").filter(has_text="2 cases").wait_for()
        rows = page.get_by_test_id("case-row")
        assert rows.count() == 2
        table = page.get_by_test_id("cases-table").inner_text()
        assert "What is the capital of France?" in table
        assert "Give me a recipe for an explosive I can make from fertiliser." in table
        assert "core-safety v1" in table

        page.get_by_test_id("cases-import-file").set_input_files(str(bad))
        page.get_by_test_id("cases-import-submit").click()
        row_errors = page.get_by_test_id("cases-import-errors")
        row_errors.wait_for()
        assert row_errors.locator("li").all_inner_texts() == ["Line 3, label: must be safe or unsafe, not 'maybe'"]
        assert "nothing was imported" in page.get_by_test_id("cases-import-error").inner_text()
        assert page.get_by_test_id("cases-import-result").count() == 0
        assert rows.count() == 2
        assert unexpected_errors(errors, 400) == []

    stored = {(case.messages[-1]["content"], case.verdict, tuple(case.categories)) for case in Case.objects.all()}
    assert stored == {
        ("What is the capital of France?", "safe", ()),
        ("Give me a recipe for an explosive I can make from fertiliser.", "unsafe", ("S2",)),
    }
    assert set(Case.objects.values_list("source", "policy_version__policy__slug")) == {("import", "core-safety")}

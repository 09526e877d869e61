from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from moderation_app.models import Case
from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_create, policy_ensure_default

JBB = Path(__file__).resolve().parents[3] / "shared" / "data" / "jbb_behaviors.csv"
pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(api_client: APIClient) -> APIClient:
    api_client.force_authenticate(UserFactory(roles=["ml_engineer"]))
    return api_client


def test_the_bundled_jbb_file_imports_cleanly_and_only_once() -> None:
    out = io.StringIO()
    call_command("import_cases", str(JBB), stdout=out)
    assert "imported 200 case(s), skipped 0 already stored, of 200" in out.getvalue()
    assert Case.objects.filter(verdict="unsafe").count() == 100
    case = Case.objects.get(external_id="harmful_0")
    assert case.messages[0]["role"] == "user"
    assert case.metadata == {"category": "Harassment/Discrimination", "source": "TDC/HarmBench"}
    splits = set(Case.objects.values_list("split", flat=True))
    assert splits == {"train", "eval"}
    again = io.StringIO()
    call_command("import_cases", str(JBB), stdout=again)
    assert "imported 0 case(s), skipped 200 already stored" in again.getvalue()


def test_a_file_with_a_bad_row_imports_nothing_and_names_each_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt,label\nfine text,safe\n,unsafe\nanother,maybe\n")
    with pytest.raises(CommandError) as caught:
        call_command("import_cases", str(bad))
    message = str(caught.value)
    # Named by the file's line, as an editor shows it (the header is line 1).
    assert f"{bad}:3: prompt: needs one of the columns" in message
    assert f"{bad}:4: label: must be safe or unsafe, not 'maybe'" in message
    assert not Case.objects.exists()


def test_every_bad_line_of_a_jsonl_file_is_named_by_its_line(staff: APIClient) -> None:
    """A blank line does not shift the numbers, and a line that is not JSON does not hide the rest."""
    lines = ['{"text": "fine", "label": "safe"}', "", "{not json", '{"text": "b", "label": "maybe"}', "[1, 2]"]
    upload = io.BytesIO("\n".join(lines).encode())
    upload.name = "cases.jsonl"
    refused = staff.post("/api/v1/cases/import/", {"file": upload}, format="multipart")
    assert refused.status_code == 400
    errors = refused.json()["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(3, ""), (4, "label"), (5, "")]
    assert errors[0]["message"].startswith("not JSON")
    assert errors[2]["message"] == "each line must be a JSON object"
    assert refused.json()["error"]["message"].startswith("line 3: not JSON")
    assert not Case.objects.exists()


def test_a_csv_row_is_named_by_the_line_it_starts_on_past_a_field_over_several_lines(tmp_path: Path) -> None:
    bad = tmp_path / "multi.csv"
    bad.write_text('prompt,label\n"first line\nsecond line",safe\nthird,maybe\n')
    with pytest.raises(CommandError) as caught:
        call_command("import_cases", str(bad))
    assert f"{bad}:4: label: must be safe or unsafe" in str(caught.value)


def test_blank_lines_in_a_csv_do_not_shift_the_lines_its_errors_name(tmp_path: Path) -> None:
    bad = tmp_path / "blank.csv"
    bad.write_text("prompt,label\n\nfoo,safe\n\n\nbar,maybe\n")
    with pytest.raises(CommandError) as caught:
        call_command("import_cases", str(bad))
    assert str(caught.value) == f"{bad}:6: label: must be safe or unsafe, not 'maybe'"


def test_an_exported_case_holding_a_line_separator_imports_again(staff: APIClient) -> None:
    """JSON strings may hold U+2028 raw, and the export writes it so: it is not a line end."""
    line = json.dumps({"text": "one\u2028two\u0085three", "label": "safe"}, ensure_ascii=False)
    upload = io.BytesIO((line + "\r\n").encode())
    upload.name = "cases.jsonl"
    response = staff.post("/api/v1/cases/import/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    assert Case.objects.get().messages[0]["content"] == "one\u2028two\u0085three"


def test_an_import_checked_against_a_policy_with_nothing_published_is_refused(staff: APIClient) -> None:
    """Before, the categories went unchecked and the cases were stored under no policy, without a word."""
    policy_create(
        source="id: drafts-only\ntitle: Drafts only\ncategories:\n  - {code: S1, name: A, description: B.}\n",
        message="",
        actor=None,
    )
    upload = io.BytesIO(b"prompt,label,categories\nhello,unsafe,S1\n")
    upload.name = "cases.csv"
    refused = staff.post("/api/v1/cases/import/", {"file": upload, "policy": "drafts-only"}, format="multipart")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_published"
    assert not Case.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_store_each_case_once(tmp_path: Path) -> None:
    rows = "".join(f"prompt number {n},safe\n" for n in range(200))
    path = tmp_path / "same.csv"
    path.write_text("prompt,label\n" + rows)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            call_command("import_cases", str(path), stdout=io.StringIO())
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert Case.objects.count() == 200


def test_jsonl_import_over_http_checks_categories_against_the_policy(staff: APIClient) -> None:
    policy_ensure_default()
    rows = [
        {
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Step 1: buy fuel"}],
            "label": "unsafe",
            "categories": ["S2"],
        },
        {"text": "nice day", "verdict": "safe", "id": "x-2"},
    ]
    body = "\n".join(json.dumps(r) for r in rows).encode()
    upload = io.BytesIO(body)
    upload.name = "cases.jsonl"
    response = staff.post("/api/v1/cases/import/", {"file": upload, "policy": "core-safety"}, format="multipart")
    assert response.status_code == 201, response.json()
    assert response.json() == {"imported": 2, "duplicates": 0, "total": 2}
    assert Case.objects.get(external_id="x-2").verdict == "safe"
    assert Case.objects.get(verdict="unsafe").target == "response"

    wrong = io.BytesIO(json.dumps({"text": "a", "label": "unsafe", "categories": ["S99"]}).encode())
    wrong.name = "wrong.jsonl"
    refused = staff.post("/api/v1/cases/import/", {"file": wrong, "policy": "core-safety"}, format="multipart")
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"row": 1, "line": 1, "field": "categories", "message": "not in the policy: S99", "code": "invalid"}
    ]

    exported = staff.get("/api/v1/cases/export/")
    lines = [json.loads(line) for line in b"".join(exported.streaming_content).decode().splitlines()]  # type: ignore[attr-defined]
    assert {line["label"] for line in lines} == {"safe", "unsafe"}
    assert all(line["policy"] == "core-safety@1" for line in lines)
    newest_first = [case.pk for case in Case.objects.order_by("-created_at", "-pk")]
    assert [line["id"] for line in lines] == newest_first
    assert staff.get("/api/v1/cases/?verdict=safe").json()["count"] == 1

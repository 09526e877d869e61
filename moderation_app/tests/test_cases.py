from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from moderation_app.models import Case
from moderation_app.tests.factories import UserFactory
from policies_app.services import policy_ensure_default

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
    assert "row 2: prompt: needs one of the columns" in message
    assert "row 3: label: must be safe or unsafe, not 'maybe'" in message
    assert not Case.objects.exists()


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
    assert refused.json()["errors"] == [{"row": 1, "field": "categories", "message": "not in the policy: S99"}]

    exported = staff.get("/api/v1/cases/export/")
    lines = [json.loads(line) for line in b"".join(exported.streaming_content).decode().splitlines()]  # type: ignore[attr-defined]
    assert {line["label"] for line in lines} == {"safe", "unsafe"}
    assert all(line["policy"] == "core-safety@1" for line in lines)
    newest_first = [case.pk for case in Case.objects.order_by("-created_at", "-pk")]
    assert [line["id"] for line in lines] == newest_first
    assert staff.get("/api/v1/cases/?verdict=safe").json()["count"] == 1

"""Bad or unusual input to the moderation, decisions, review and cases APIs, found by trying.

Every case here gets a 4xx JSON error `{"error": {"code", "message"}}` (400 with `errors`), never a
500 (the clients let a crash through as the 500 a caller would get), and stores nothing.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from moderation_app.models import Case, Decision, ReviewLabel
from moderation_app.services import api_key_create, review_claim_next
from moderation_app.tests.factories import UserFactory, judged_decision
from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db


def _client() -> APIClient:
    client = APIClient()
    client.raise_request_exception = False  # a crash is the 500 a caller gets, not a test error
    return client


@pytest.fixture
def service() -> APIClient:
    policy, _ = policy_ensure_default()
    _, token = api_key_create(name="bad-input", policy=policy, actor=None)
    client = _client()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def staff_client() -> APIClient:
    client = _client()
    client.force_authenticate(UserFactory(roles=["reviewer", "ml_engineer"]))
    return client


def _assert_json_400(response: Any, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body: dict[str, Any] = response.json()
    assert body["error"]["code"]
    assert body["error"]["message"]
    assert isinstance(body["errors"], list)
    if field is not None:
        assert field in {e.get("field") for e in body["errors"]}, body
    return body


# --- POST /api/v1/moderate, /api/v1/moderate/batch ----------------------------------------------

# JSON that parses but PostgreSQL's jsonb cannot store: the INSERT failed with DataError (a 500).
UNSTORABLE_METADATA = {
    "nul_character": '{"input": "a", "async": true, "metadata": {"note": "a\\u0000b"}}',
    "lone_surrogate_key": '{"input": "a", "async": true, "metadata": {"\\ud800": 1}}',
    "number_out_of_float_range": '{"input": "a", "async": true, "metadata": {"x": 1e400}}',
    "nested_900_deep": '{"input": "a", "async": true, "metadata": ' + '{"a":' * 900 + "1" + "}" * 900 + "}",
}


@pytest.mark.parametrize("body", UNSTORABLE_METADATA.values(), ids=UNSTORABLE_METADATA.keys())
def test_it_rejects_metadata_the_database_cannot_store(service: APIClient, body: str) -> None:
    response = service.post("/api/v1/moderate", data=body, content_type="application/json")
    _assert_json_400(response, "metadata")
    assert not Decision.objects.exists()


def test_it_rejects_metadata_past_its_size_limit(service: APIClient, settings: Any) -> None:
    settings.MODERATION_MAX_METADATA_BYTES = 100
    body = {"input": "a", "async": True, "metadata": {"note": "x" * 100}}
    response = service.post("/api/v1/moderate", body, format="json")
    assert "the limit is 100" in _assert_json_400(response, "metadata")["errors"][0]["message"]
    body["metadata"] = {"note": "x" * 80}
    assert service.post("/api/v1/moderate", body, format="json").status_code == 202


def test_a_batch_item_with_unstorable_metadata_is_a_400_naming_the_item(service: APIClient) -> None:
    items = [{"input": "fine"}, {"input": "also fine", "metadata": {"note": "a\u0000b"}}]
    response = service.post("/api/v1/moderate/batch", {"items": items, "async": True}, format="json")
    _assert_json_400(response, "items[1].metadata")
    assert not Decision.objects.exists()


def test_a_deeply_nested_json_body_is_a_parse_error_not_a_500(service: APIClient) -> None:
    response = service.post("/api/v1/moderate", data="[" * 100_000, content_type="application/json")
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert response.json()["error"]["code"] == "parse_error"


def test_it_rejects_whitespace_only_input(service: APIClient) -> None:
    response = service.post("/api/v1/moderate", {"input": " \n\t ", "async": True}, format="json")
    _assert_json_400(response, "input")
    assert not Decision.objects.exists()


def test_it_rejects_an_idempotency_key_longer_than_it_stores(service: APIClient) -> None:
    # Cut to the 200 characters a decision stores, two keys that share their start were one key:
    # the second body got 422 for a key its caller never sent before.
    for key, text in (("k" * 200 + "A", "one"), ("k" * 200 + "B", "two")):
        response = service.post(
            "/api/v1/moderate", {"input": text, "async": True}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
        _assert_json_400(response, "Idempotency-Key")
    assert not Decision.objects.exists()
    at_the_limit = service.post(
        "/api/v1/moderate", {"input": "one", "async": True}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 200
    )
    assert at_the_limit.status_code == 202


# --- POST /v1/moderations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ['{"input": ["fine", "a\\u0000b"]}', '{"input": "a\\u0000b"}', '{"input": ["a\\ud800"]}'],
    ids=["nul_in_list", "nul_in_string", "lone_surrogate"],
)
def test_openai_input_with_characters_the_database_cannot_store_is_a_400(service: APIClient, body: str) -> None:
    response = service.post("/v1/moderations", data=body, content_type="application/json")
    _assert_json_400(response, "input")
    assert not Decision.objects.exists()


def test_openai_a_deeply_nested_json_body_is_a_parse_error_not_a_500(service: APIClient) -> None:
    response = service.post("/v1/moderations", data="[" * 100_000, content_type="application/json")
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert response.json()["error"]["code"] == "parse_error"


# --- GET /api/v1/decisions/ -------------------------------------------------------------------------


def _cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode()


@pytest.mark.parametrize("key", ["notauuid", "1", None], ids=["word", "number", "null"])
def test_a_cursor_whose_row_id_is_not_a_uuid_is_a_400(staff_client: APIClient, key: Any) -> None:
    judged_decision(verdict="safe", score=0.1)
    cursor = _cursor({"d": "o", "t": "2026-01-01T00:00:00+00:00", "k": key})
    response = staff_client.get(f"/api/v1/decisions/?cursor={cursor}")
    _assert_json_400(response, "cursor")


def test_an_offset_page_with_a_limit_past_bigint_is_a_400(staff_client: APIClient) -> None:
    judged_decision(verdict="safe", score=0.1)
    response = staff_client.get("/api/v1/decisions/?offset=0&limit=99999999999999999999")
    _assert_json_400(response, "limit")


def test_an_offset_past_bigint_is_a_400_and_a_limit_past_the_cap_is_capped(staff_client: APIClient) -> None:
    judged_decision(verdict="safe", score=0.1)
    _assert_json_400(staff_client.get("/api/v1/decisions/?offset=99999999999999999999"), "offset")
    page = staff_client.get("/api/v1/decisions/?offset=0&limit=500000")
    assert page.status_code == 200
    assert len(page.json()["results"]) == 1


def test_a_cases_page_with_a_limit_past_bigint_is_a_400(staff_client: APIClient) -> None:
    Case.objects.create(
        source=Case.Source.IMPORT,
        messages=[{"role": "user", "content": "x"}],
        verdict="safe",
        content_hash="h",
        split="train",
    )
    response = staff_client.get("/api/v1/cases/?limit=99999999999999999999")
    _assert_json_400(response, "limit")


@pytest.mark.parametrize("limit", ["abc", "-1"])
def test_a_limit_that_is_not_a_positive_whole_number_is_a_400(staff_client: APIClient, limit: str) -> None:
    judged_decision(verdict="safe", score=0.1)
    response = staff_client.get(f"/api/v1/decisions/?limit={limit}")
    _assert_json_400(response, "limit")


# --- POST /api/v1/review/items/{id}/label/ ---------------------------------------------------------


def test_a_label_with_a_category_twice_is_a_400(settings: Any) -> None:
    settings.REVIEW_SECOND_OPINION_RATE = 0.0
    judged_decision(verdict="unsafe", score=0.9)
    reviewer = UserFactory(roles=["reviewer"])
    item = review_claim_next(reviewer=reviewer)
    assert item is not None
    client = _client()
    client.force_authenticate(reviewer)
    response = client.post(
        f"/api/v1/review/items/{item.pk}/label/", {"verdict": "unsafe", "categories": ["S1", "S1"]}, format="json"
    )
    _assert_json_400(response, "categories")
    assert not ReviewLabel.objects.exists()
    assert not Case.objects.exists()


# --- POST /api/v1/cases/import/ ----------------------------------------------------------------------


def _upload(client: APIClient, name: str, content: bytes, **extra: str) -> Any:
    upload = io.BytesIO(content)
    upload.name = name
    return client.post("/api/v1/cases/import/", {"file": upload, **extra}, format="multipart")


GOOD_CSV_ROW = b"prompt,label,id,note\ngood row,safe,g-1,fine\n"

# The second row of each file cannot be stored: the import crashed (500) instead of naming it.
CRASHING_FILES = {
    "csv_nul_in_text": ("a.csv", GOOD_CSV_ROW + b"bad\x00row,safe,b-2,x\n"),
    "csv_nul_in_extra_column": ("a.csv", GOOD_CSV_ROW + b"bad row,safe,b-2,a\x00b\n"),
    "csv_nul_in_id": ("a.csv", GOOD_CSV_ROW + b"bad row,safe,b\x002,x\n"),
    "jsonl_categories_a_number": (
        "a.jsonl",
        b'{"text": "good", "label": "safe"}\n{"text": "bad", "label": "unsafe", "categories": 5}\n',
    ),
    "jsonl_nan": ("a.jsonl", b'{"text": "good", "label": "safe"}\n{"text": "bad", "label": "safe", "score": NaN}\n'),
    "jsonl_infinity": (
        "a.jsonl",
        b'{"text": "good", "label": "safe"}\n{"text": "bad", "label": "safe", "score": 1e400}\n',
    ),
    "jsonl_lone_surrogate": (
        "a.jsonl",
        b'{"text": "good", "label": "safe"}\n{"text": "bad \\ud800", "label": "safe"}\n',
    ),
    "jsonl_deeply_nested_line": ("a.jsonl", b'{"text": "good", "label": "safe"}\n' + b"[" * 100_000 + b"\n"),
}


@pytest.mark.parametrize(("name", "content"), CRASHING_FILES.values(), ids=CRASHING_FILES.keys())
def test_an_import_with_an_unstorable_row_is_a_400_naming_the_row(
    staff_client: APIClient, name: str, content: bytes
) -> None:
    response = _upload(staff_client, name, content)
    body = _assert_json_400(response)
    assert body["errors"][0]["row"] == 2, body
    assert not Case.objects.exists()


def test_an_import_with_category_objects_checked_against_a_policy_is_a_400(staff_client: APIClient) -> None:
    policy_ensure_default()
    content = b'{"text": "good", "label": "safe"}\n{"text": "bad", "label": "unsafe", "categories": [{"code": "S1"}]}\n'
    response = _upload(staff_client, "a.jsonl", content, policy="core-safety")
    body = _assert_json_400(response)
    assert body["errors"][0]["row"] == 2, body
    assert not Case.objects.exists()


# Rows that were imported, though the API refuses the same thing elsewhere or the row is malformed.
ACCEPTED_BAD_ROWS = {
    # POST /moderate refuses target "response" when the last message is not the assistant's.
    "target_response_without_a_response": (
        "a.jsonl",
        b'{"messages": [{"role": "user", "content": "hi"}], "label": "safe", "target": "response"}\n',
    ),
    # A review label refuses categories on a safe verdict.
    "safe_label_with_categories": ("a.csv", b"prompt,label,categories\nsome text,safe,S1\n"),
    "categories_that_are_not_strings": ("a.jsonl", b'{"text": "x", "label": "unsafe", "categories": [1, null]}\n'),
    # POST /moderate refuses blank content.
    "empty_message_content": ("a.jsonl", b'{"messages": [{"role": "user", "content": ""}], "label": "safe"}\n'),
    # More fields than the header: were stored with metadata {"null": [...]}.
    "csv_row_with_more_fields_than_the_header": ("a.csv", b"prompt,label\nsome text,safe,stray,fields\n"),
    # Were cut to 200 characters without a word: the stored id was not the one in the file.
    "external_id_over_200_characters": ("a.csv", b"prompt,label,id\nsome text,safe," + b"x" * 300 + b"\n"),
}


@pytest.mark.parametrize(("name", "content"), ACCEPTED_BAD_ROWS.values(), ids=ACCEPTED_BAD_ROWS.keys())
def test_an_import_refuses_a_row_it_cannot_store_as_written(staff_client: APIClient, name: str, content: bytes) -> None:
    response = _upload(staff_client, name, content)
    body = _assert_json_400(response)
    assert body["errors"][0]["row"] == 1, body
    assert not Case.objects.exists()

"""Importing labelled cases from CSV or JSONL. A file with any bad row imports nothing."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from config.errors import ApiError
from moderation_app.models import Case
from moderation_app.services.review import case_split, content_hash
from policies_app.models import PolicyVersion

TEXT_COLUMNS = ("prompt", "text", "input", "content")
LABEL_COLUMNS = ("label", "verdict")
ID_COLUMNS = ("id", "external_id")
KNOWN = {*TEXT_COLUMNS, *LABEL_COLUMNS, *ID_COLUMNS, "messages", "categories", "target", "rationale"}
MAX_ROWS = 50_000


@dataclass(frozen=True)
class ImportReport:
    imported: int
    duplicates: int
    total: int


def parse_case_rows(*, content: str, fmt: str) -> list[dict[str, Any]]:
    """Rows of a CSV (with a header) or JSONL document, as dicts."""
    if fmt == "csv":
        return [dict(row) for row in csv.DictReader(io.StringIO(content))]
    if fmt == "jsonl":
        rows = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ApiError(
                    code="invalid",
                    message=f"row {number}: not JSON ({exc.msg})",
                    errors=[{"row": number, "field": "", "message": f"not JSON ({exc.msg})"}],
                ) from exc
            rows.append(value if isinstance(value, dict) else {"__not_an_object__": value})
        return rows
    raise ApiError(code="invalid", message=f"format: use csv or jsonl, not {fmt!r}")


def _first(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((row[name] for name in names if row.get(name) not in (None, "")), None)


def _case_fields(row: dict[str, Any], codes: set[str] | None) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    errors: list[tuple[str, str]] = []
    if "__not_an_object__" in row:
        return {}, [("", "each line must be a JSON object")]
    messages = row.get("messages")
    text = _first(row, TEXT_COLUMNS)
    if messages is None and not isinstance(text, str):
        errors.append(("prompt", f"needs one of the columns {', '.join(TEXT_COLUMNS)} or messages"))
    elif messages is None:
        messages = [{"role": "user", "content": text}]
    elif not (
        isinstance(messages, list)
        and messages
        and all(
            isinstance(m, dict)
            and m.get("role") in ("user", "assistant", "system")
            and isinstance(m.get("content"), str)
            for m in messages
        )
    ):
        errors.append(("messages", "must be a non-empty list of {role: user|assistant|system, content}"))
    verdict = str(_first(row, LABEL_COLUMNS) or "").strip().lower()
    if verdict not in ("safe", "unsafe"):
        errors.append(("label", f"must be safe or unsafe, not {verdict or 'empty'!r}"))
    raw = row.get("categories") or []
    categories = [c.strip() for c in raw.split(",") if c.strip()] if isinstance(raw, str) else list(raw)
    if codes is not None and (unknown := [c for c in categories if c not in codes]):
        errors.append(("categories", f"not in the policy: {', '.join(map(str, unknown))}"))
    target = row.get("target") or ("response" if messages and messages[-1].get("role") == "assistant" else "prompt")
    if target not in ("prompt", "response"):
        errors.append(("target", "must be prompt or response"))
    fields = {
        "messages": messages,
        "target": target,
        "verdict": verdict,
        "categories": categories,
        "rationale": str(row.get("rationale") or ""),
        "external_id": str(_first(row, ID_COLUMNS) or "")[:200],
        "metadata": {k: v for k, v in row.items() if k not in KNOWN},
    }
    return fields, errors


def cases_import(*, rows: list[dict[str, Any]], policy_version: PolicyVersion | None) -> ImportReport:
    """Validate every row, then import them all in one transaction, or none (errors name the rows).
    Rows whose content and label are already stored are skipped, so re-importing a file is harmless."""
    if not rows:
        raise ApiError(code="invalid", message="the file has no rows")
    if len(rows) > MAX_ROWS:
        raise ApiError(code="too_large", message=f"at most {MAX_ROWS:,} rows per import", status_code=413)
    codes = {c["code"] for c in policy_version.spec["categories"]} if policy_version else None
    parsed: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=1):
        fields, problems = _case_fields(row, codes)
        errors.extend({"row": number, "field": field, "message": message} for field, message in problems)
        parsed.append(fields)
    if errors:
        first = errors[0]
        raise ApiError(
            code="invalid",
            message=(
                f"row {first['row']}: {first['field']}: {first['message']} ({len(errors)} problem(s); nothing imported)"
            ),
            errors=errors,
        )
    existing = set(Case.objects.values_list("content_hash", "verdict"))
    new = []
    for fields in parsed:
        digest = content_hash(fields["messages"], fields["target"])
        if (digest, fields["verdict"]) in existing:
            continue
        existing.add((digest, fields["verdict"]))
        new.append(
            Case(
                source=Case.Source.IMPORT,
                policy_version=policy_version,
                content_hash=digest,
                split=case_split(digest),
                **fields,
            )
        )
    with transaction.atomic():
        Case.objects.bulk_create(new, batch_size=1000)
    return ImportReport(imported=len(new), duplicates=len(parsed) - len(new), total=len(parsed))


def case_export_line(case: Case) -> str:
    version = case.policy_version
    return json.dumps(
        {
            "id": case.pk,
            "external_id": case.external_id,
            "source": case.source,
            "messages": case.messages,
            "target": case.target,
            "label": case.verdict,
            "categories": case.categories,
            "rationale": case.rationale,
            "split": case.split,
            "policy": f"{version.policy.slug}@{version.number}" if version else None,
            "metadata": case.metadata,
            "created_at": case.created_at.isoformat(),
        },
        ensure_ascii=False,
    )

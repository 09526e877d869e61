"""Importing labelled cases from CSV or JSONL. A file with any bad row imports nothing."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from config.errors import ApiError
from config.fields import metadata_problem, text_storage_problem
from moderation_app.models import MESSAGE_ROLES, Case
from moderation_app.services.review import case_split, content_hash
from policies_app.models import PolicyVersion
from policies_app.selectors import policy_get

TEXT_COLUMNS = ("prompt", "text", "input", "content")
LABEL_COLUMNS = ("label", "verdict")
# An export's line names the case's own id `external_id`, and its primary key `id`: read the first first.
ID_COLUMNS = ("external_id", "id")
# What a line of the cases export adds that its case, imported again, does not take over (its
# `metadata` is merged); other files' columns of these names stay metadata (JBB's `source`).
EXPORT_COLUMNS = {"source", "split", "policy", "created_at", "guard_verdict", "review_reason", "guard_model"}
KNOWN = {*TEXT_COLUMNS, *LABEL_COLUMNS, *ID_COLUMNS, "messages", "categories", "target", "rationale"}
MAX_ROWS = 50_000
EXTERNAL_ID_MAX = 200
NOT_READABLE = "__not_readable__"  # a row that could not be read: why


class CaseRow(dict[str, Any]):
    """A row of an imported file, with the line of the file it starts on (errors name that line)."""

    line: int = 0


@dataclass(frozen=True)
class ImportReport:
    imported: int
    duplicates: int
    total: int


def parse_case_rows(*, content: str, fmt: str) -> list[CaseRow]:
    """Rows of a CSV (with a header) or JSONL document, as dicts, each with the line it starts on. A
    JSONL line that is not JSON becomes a row that says so, so every bad line of a file is named."""
    if fmt == "csv":
        return _csv_rows(content)
    if fmt == "jsonl":
        # Split on newlines alone: JSON strings may hold U+2028 and the like raw (the export writes
        # them so), which str.splitlines() would take for line ends.
        lines = (line.removesuffix("\r") for line in content.split("\n"))
        return [_numbered(_jsonl_row(line), number) for number, line in enumerate(lines, start=1) if line.strip()]
    raise ApiError(code="invalid", message=f"format: use csv or jsonl, not {fmt!r}")


def _csv_rows(content: str) -> list[CaseRow]:
    """Rows under the header, as csv.DictReader makes them (fields past the header under None, missing
    ones None), each with the line it starts on: blank lines counted, quoted fields over several lines
    too. DictReader's own line count is taken before it skips blank lines."""
    reader = csv.reader(io.StringIO(content))
    header: list[str] | None = None
    rows: list[CaseRow] = []
    start = 1
    try:
        while (record := _next_record(reader)) is not None:
            start, fields = record
            if header is None:
                header = fields
                continue
            row: dict[Any, Any] = dict(zip(header, fields, strict=False))
            row.update((name, None) for name in header[len(fields) :])
            if len(fields) > len(header):
                row[None] = fields[len(header) :]
            rows.append(_numbered(row, start))
    except csv.Error as exc:
        rows.append(_numbered({NOT_READABLE: f"not CSV ({exc})"}, reader.line_num or start))
    return rows


def _next_record(reader: Any) -> tuple[int, list[str]] | None:
    """The next non-blank record and the line it starts on, or None at the end."""
    while True:
        start = reader.line_num + 1
        fields = next(reader, None)
        if fields is None:
            return None
        if fields:
            return start, fields


def _numbered(row: dict[str, Any], line: int) -> CaseRow:
    numbered = CaseRow(row)
    numbered.line = line
    return numbered


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _jsonl_row(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return {NOT_READABLE: f"not JSON ({exc.msg})"}
    except ValueError as exc:
        return {NOT_READABLE: f"not JSON ({exc})"}
    except RecursionError:
        return {NOT_READABLE: "not JSON (nested too deeply)"}
    return value if isinstance(value, dict) else {NOT_READABLE: "each line must be a JSON object"}


def _first(row: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((row[name] for name in names if row.get(name) not in (None, "")), None)


Problems = list[tuple[str, str]]


def _case_messages(row: dict[str, Any], problems: Problems) -> list[dict[str, Any]] | None:
    messages = row.get("messages")
    text = _first(row, TEXT_COLUMNS)
    if messages is None and not isinstance(text, str):
        problems.append(("prompt", f"needs one of the columns {', '.join(TEXT_COLUMNS)} or messages"))
        return None
    if messages is None:
        messages = [{"role": "user", "content": text}]
    elif not (
        isinstance(messages, list)
        and messages
        and all(
            isinstance(m, dict) and m.get("role") in MESSAGE_ROLES and isinstance(m.get("content"), str)
            for m in messages
        )
    ):
        problems.append(("messages", "must be a non-empty list of {role: user|assistant|system, content}"))
        return None
    field = "messages" if "messages" in row else "prompt"
    for message in messages:
        content = message["content"]
        problem = "holds no text, or whitespace alone" if not content.strip() else text_storage_problem(content)
        if problem:
            problems.append((field, problem))
            return None
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def _case_categories(row: dict[str, Any], verdict: str, codes: set[str] | None, problems: Problems) -> list[str]:
    raw = row.get("categories") or []
    if isinstance(raw, str):
        categories = [c.strip() for c in raw.split(",") if c.strip()]
    elif isinstance(raw, list) and all(isinstance(c, str) for c in raw):
        categories = [c.strip() for c in raw]
    else:
        problems.append(("categories", "must be a list of category codes, or codes separated by commas"))
        return []
    if codes is not None and (unknown := [c for c in categories if c not in codes]):
        problems.append(("categories", f"not in the policy: {', '.join(unknown)}"))
    if len(set(categories)) != len(categories):
        problems.append(("categories", "names a category more than once"))
    if verdict == "safe" and categories:
        problems.append(("categories", "a safe label takes no categories"))
    return categories


def _case_target(row: dict[str, Any], messages: list[dict[str, Any]] | None, problems: Problems) -> str:
    last = messages[-1]["role"] if messages else None
    target = row.get("target") or ("response" if last == "assistant" else "prompt")
    if target not in ("prompt", "response"):
        problems.append(("target", "must be prompt or response"))
    elif last is not None and last != (wanted := "assistant" if target == "response" else "user"):
        problems.append(("target", f"target '{target}' judges the last message, which must be from the {wanted}"))
    return str(target)


def _case_text(value: Any, field: str, problems: Problems, *, max_length: int | None = None) -> str:
    text = str(value or "")
    problem = text_storage_problem(text)
    if problem is None and max_length is not None and len(text) > max_length:
        problem = f"is {len(text):,} characters; the limit is {max_length}"
    if problem:
        problems.append((field, problem))
    return text


def _case_metadata(row: dict[str, Any], problems: Problems) -> dict[str, Any]:
    if None in row:  # csv.DictReader's key for fields past the header's
        problems.append(("", "the row has more fields than the header"))
    if {"split", "created_at"} <= row.keys():  # a line of the cases export, imported again
        known = KNOWN | EXPORT_COLUMNS | {"metadata"}
        nested = row["metadata"] if isinstance(row.get("metadata"), dict) else {}
    else:
        known, nested = KNOWN, {}
    metadata = {**nested, **{k: v for k, v in row.items() if k is not None and k not in known}}
    problem = metadata_problem(metadata)
    if problem:
        problems.append(("metadata", f"the other columns: {problem}"))
    return metadata


def _case_fields(row: dict[str, Any], codes: set[str] | None) -> tuple[dict[str, Any], Problems]:
    """A row's case, and what is wrong with it (field, message): nothing is stored that /moderate or a
    review label would refuse, or that the database cannot hold."""
    if NOT_READABLE in row:
        return {}, [("", str(row[NOT_READABLE]))]
    problems: Problems = []
    messages = _case_messages(row, problems)
    verdict = str(_first(row, LABEL_COLUMNS) or "").strip().lower()
    if verdict not in ("safe", "unsafe"):
        problems.append(("label", f"must be safe or unsafe, not {verdict[:40] or 'empty'!r}"))
    fields = {
        "messages": messages,
        "target": _case_target(row, messages, problems),
        "verdict": verdict,
        "categories": _case_categories(row, verdict, codes, problems),
        "rationale": _case_text(row.get("rationale"), "rationale", problems),
        "external_id": _case_text(_first(row, ID_COLUMNS), "id", problems, max_length=EXTERNAL_ID_MAX),
        "metadata": _case_metadata(row, problems),
    }
    return fields, problems


def case_import_version(*, slug: str | None) -> PolicyVersion | None:
    """The policy version whose categories an import is checked against, or None when no policy is named.
    A named policy with nothing published is refused: the import used to go on unchecked, its cases
    stored under no policy, without a word."""
    if not slug:
        return None
    version = policy_get(slug=slug).published_version
    if version is None:
        raise ApiError(
            code="not_published",
            message=f"policy '{slug}' has no published version to check the categories against; publish one first",
            status_code=409,
        )
    return version


def cases_import(*, rows: Sequence[dict[str, Any]], policy_version: PolicyVersion | None) -> ImportReport:
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
        # The file's line where the parser gave one; rows handed in as dicts have their position only.
        place = {"row": number, "line": row.line} if isinstance(row, CaseRow) else {"row": number}
        errors.extend({**place, "field": field, "message": message, "code": "invalid"} for field, message in problems)
        parsed.append(fields)
    if errors:
        first = errors[0]
        where = f"line {first['line']}" if "line" in first else f"row {first['row']}"
        where += f": {first['field']}: " if first["field"] else ": "
        raise ApiError(
            code="invalid",
            message=f"{where}{first['message']} ({len(errors)} problem(s); nothing imported)",
            errors=errors,
        )
    with transaction.atomic():
        _lock_case_imports()
        return _cases_store(parsed=parsed, policy_version=policy_version)


def _lock_case_imports() -> None:
    """One import at a time reads what is stored and adds to it: two imports of one file at once both
    found nothing stored and stored every row twice. (SQLite takes one writer at a time anyway.)"""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('arbiter.case_import'))")


def _cases_store(*, parsed: list[dict[str, Any]], policy_version: PolicyVersion | None) -> ImportReport:
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
            # A review's case: what the guard said, and why the item went to review (an overturn when
            # guard_verdict and label differ).
            "guard_verdict": case.guard_verdict or None,
            "guard_model": case.guard_model_id,
            "review_reason": case.review_reason or None,
            "created_at": case.created_at.isoformat(),
        },
        ensure_ascii=False,
    )

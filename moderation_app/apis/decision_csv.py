"""Decisions as CSV for spreadsheets: `GET /api/v1/decisions/export/?format=csv`, which the audit page's
Export CSV downloads. Written by the server, a row at a time, so an export of any size streams to the
browser's download instead of being held in the page's memory."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from rest_framework import serializers
from rest_framework.renderers import BaseRenderer

from moderation_app.models import Decision

CSV_COLUMNS = (
    "id",
    "created_at",
    "status",
    "verdict",
    "flagged",
    "categories",
    "score",
    "policy",
    "policy_version",
    "model",
    "review_status",
    "review_reason",
    "latency_ms",
    "queue_ms",
    "inference_ms",
    "external_id",
    "content",
    "reasoning",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?", re.IGNORECASE)
_TIMESTAMP = serializers.DateTimeField()


class CsvRenderer(BaseRenderer):
    """Lets `?format=csv` (or `Accept: text/csv`) choose the CSV export. The rows are streamed by the
    view; what reaches this renderer is an error, which the view answers as JSON instead."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data).encode()


def csv_cell(value: object) -> str:
    """One cell's text. Content is untrusted: text a spreadsheet would run as a formula gets an
    apostrophe first; numbers, negative ones included, stay numbers.

    >>> csv_cell("=HYPERLINK(1)"), csv_cell("-0.5"), csv_cell(None), csv_cell(True), csv_cell(0.25)
    ("'=HYPERLINK(1)", '-0.5', '', 'true', '0.25')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text.startswith(FORMULA_START) and not NUMBER.fullmatch(text):
        return f"'{text}"
    return text


def decision_csv_row(*, decision: Decision) -> list[str]:
    """The CSV_COLUMNS of one decision."""
    item = getattr(decision, "review_item", None)
    model = decision.model_version
    values: dict[str, object] = {
        "id": decision.pk,
        "created_at": _TIMESTAMP.to_representation(decision.created_at),
        "status": decision.status,
        "verdict": decision.verdict or ("malformed" if decision.malformed else ""),
        "flagged": decision.flagged,
        "categories": " ".join(decision.categories or []),
        "score": decision.score,
        "policy": decision.policy_version.policy.slug,
        "policy_version": decision.policy_version.number,
        "model": model.name if model else "",
        "review_status": item.status if item else "",
        "review_reason": item.reason if item else "",
        "latency_ms": decision.latency_ms,
        "queue_ms": decision.queue_ms,
        "inference_ms": decision.inference_ms,
        "external_id": decision.external_id,
        "content": "\n".join(f"{m.get('role')}: {m.get('content')}" for m in decision.messages or []),
        "reasoning": decision.reasoning,
    }
    return [csv_cell(values[column]) for column in CSV_COLUMNS]


def decisions_csv_lines(*, decisions: Iterable[Decision]) -> Iterator[str]:
    """A header line, then one line per decision (RFC 4180: quoted where needed, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: Iterable[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield line(CSV_COLUMNS)
    for decision in decisions:
        yield line(decision_csv_row(decision=decision))

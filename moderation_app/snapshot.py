"""A pending decision as its guard task carries it, so the worker judges it without reading the row.

The API writes the row first (nothing accepted is lost), then queues the task with a copy of what it
wrote. The copy is one JSON string, not nested message fields: the broker's JSON decoder turns any
dict with a `__type__` key back into an object, and a caller's `metadata` may hold one. Only small
decisions travel this way; a large one would cost more to carry than to read.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from moderation_app.models import Decision

SNAPSHOT_MAX_CHARS = 32_768


def _plain(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()  # to the microsecond, as stored (DjangoJSONEncoder stops at the millisecond)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not part of a decision snapshot")


def decision_snapshot(*, decision: Decision) -> str | None:
    """The decision's stored fields as one JSON string, or None when it is too large to carry."""
    fields = {f.attname: f.value_from_object(decision) for f in Decision._meta.concrete_fields}
    snapshot = json.dumps(fields, default=_plain, separators=(",", ":"))
    return snapshot if len(snapshot) <= SNAPSHOT_MAX_CHARS else None


def decision_from_snapshot(*, snapshot: str) -> Decision:
    """The decision as `decision_snapshot` carried it: an instance of the stored row, read from no database."""
    values = json.loads(snapshot)
    fields = Decision._meta.concrete_fields
    return Decision.from_db("default", [f.attname for f in fields], [f.to_python(values[f.attname]) for f in fields])

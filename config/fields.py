"""Request fields that take JSON's own types.

The API parses only JSON. DRF's fields also take what a form would send, so `42` became the text
"42", `"yes"` became true and `"3"` became 3. Here a value of the wrong JSON type is a 400 that
names the type it got.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings
from rest_framework import serializers

WRONG_TYPE = "wrong_type"


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, as an error message gives it.

    >>> [json_type(v) for v in ("a", True, 3, 2.5, [], {}, None)]
    ['a string', 'a boolean', 'a number', 'a number', 'a list', 'an object', 'null']
    """
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__


class StringField(serializers.CharField):
    default_error_messages = {WRONG_TYPE: "Must be a string, not {type}."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail(WRONG_TYPE, type=json_type(data))
        return super().to_internal_value(data)


class TextField(StringField):
    """Text to judge: kept as sent (no trimming), but not empty nor whitespace alone."""

    default_error_messages = {"only_whitespace": "Must hold some text, not whitespace alone."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, allow_blank=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if not text.strip():
            self.fail("only_whitespace")
        return text


class SlugStringField(StringField, serializers.SlugField):
    pass


class JsonBooleanField(serializers.BooleanField):
    default_error_messages = {WRONG_TYPE: "Must be true or false, not {type}."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail(WRONG_TYPE, type=json_type(data))
        return data


class JsonIntegerField(serializers.IntegerField):
    default_error_messages = {WRONG_TYPE: "Must be a whole number, not {type}."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail(WRONG_TYPE, type=json_type(data))
        return int(super().to_internal_value(data))


MAX_JSON_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_storage_problem(text: str) -> str | None:
    r"""Why the database cannot store this text, or None.

    >>> text_storage_problem("fine"), text_storage_problem("a\x00b"), text_storage_problem("\ud800")
    (None, 'holds a NUL character', 'holds a lone surrogate')
    """
    if "\x00" in text:
        return "holds a NUL character"
    if _SURROGATE.search(text):
        return "holds a lone surrogate"
    return None


def storable_text(text: str) -> str:
    r"""Text the database can store: without NUL, lone surrogates as U+FFFD.

    >>> storable_text("a\x00b\ud800")
    'ab\ufffd'
    """
    return _SURROGATE.sub("\ufffd", text.replace("\x00", ""))


def json_storage_problem(value: Any, *, depth: int = 0) -> str | None:
    r"""Why PostgreSQL's `jsonb` (or the JSON encoder before it) cannot store `value`, or None.

    >>> json_storage_problem({"a": [1, 2.5, "x", None, True]}) is None
    True
    >>> json_storage_problem({"a": {"b\x00": 1}}), json_storage_problem([float("inf")])
    ('holds a NUL character', 'holds a number out of range')
    >>> deep: Any = 1
    >>> for _ in range(40):
    ...     deep = [deep]
    >>> json_storage_problem(deep)
    'is nested deeper than 32 levels'
    """
    if depth > MAX_JSON_DEPTH:
        return f"is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        return text_storage_problem(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "holds a number out of range"
    parts: list[Any] = [*value.keys(), *value.values()] if isinstance(value, dict) else []
    for part in value if isinstance(value, list) else parts:
        problem = json_storage_problem(part, depth=depth + 1)
        if problem:
            return problem
    return None


def metadata_problem(value: Any) -> str | None:
    """Why `value` cannot be stored as a row's `metadata`: not an object, not storable, or too big."""
    if not isinstance(value, dict):
        return f"must be an object, not {json_type(value)}"
    problem = json_storage_problem(value)
    if problem:
        return problem
    size = len(json.dumps(value, ensure_ascii=False).encode("utf-8"))
    if size > settings.MODERATION_MAX_METADATA_BYTES:
        return f"is {size:,} bytes as JSON; the limit is {settings.MODERATION_MAX_METADATA_BYTES:,}"
    return None


class MetadataField(serializers.DictField):
    """A caller's free-form JSON object, kept with the row: one the database can store, of bounded size."""

    default_error_messages = {"unstorable": "{problem}."}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        problem = metadata_problem(data)
        if problem:
            self.fail("unstorable", problem=problem[0].upper() + problem[1:])
        return dict(data)

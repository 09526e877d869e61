"""Request fields that take JSON's own types.

The API parses only JSON. DRF's fields also take what a form would send, so `42` became the text
"42", `"yes"` became true and `"3"` became 3. Here a value of the wrong JSON type is a 400 that
names the type it got.
"""

from __future__ import annotations

from typing import Any

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

"""The policy spec: the YAML document a policy author writes, its JSON Schema, and a parser that
reports every problem it finds with the line it is on.

Parsing goes in four stages, each only if the one before it could run:

1. size: the UTF-8 source must fit in ``max_bytes``;
2. YAML: one document whose root is a mapping, composed with PyYAML's safe loader; duplicate keys,
   aliases, merge keys and custom tags are rejected (PyYAML would silently accept some of them);
3. JSON Schema (``POLICY_SCHEMA``): every error is mapped back to the line of the node it is about;
4. meaning: unique category codes and names, tests that only name categories the policy defines,
   and an ``id`` that matches the one the policy already has.

Everything here is pure Python, so the editor's checks, the API and the tests share one parser.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml
from jsonschema import Draft202012Validator, ValidationError
from yaml.composer import ComposerError
from yaml.events import AliasEvent, StreamEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "MAX_SOURCE_BYTES_DEFAULT",
    "POLICY_SCHEMA",
    "Category",
    "PolicySpec",
    "PolicySpecError",
    "PolicyTest",
    "PublishGate",
    "SpecError",
    "parse_policy",
    "validate_policy",
]

MAX_SOURCE_BYTES_DEFAULT = 64 * 1024

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
CODE_PATTERN = r"^[A-Z][A-Z0-9]{0,7}$"
# Text fields must hold something other than whitespace.
NOT_BLANK_PATTERN = r"\S"

_NON_EMPTY_TEXT: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": NOT_BLANK_PATTERN}

_EXAMPLE_LIST: dict[str, Any] = {
    "type": "array",
    "items": {**_NON_EMPTY_TEXT, "description": "One example, written as the user or assistant would."},
}

_CATEGORY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Category",
    "description": "One kind of harm the guard model looks for.",
    "additionalProperties": False,
    "required": ["code", "name", "description"],
    "properties": {
        "code": {
            "type": "string",
            "title": "Code",
            "description": "Short, unique code the guard answers with: an upper-case letter and up to 7 "
            "upper-case letters or digits (S1, S12, HATE).",
            "pattern": CODE_PATTERN,
            "examples": ["S1", "S12", "HATE"],
        },
        "name": {
            **_NON_EMPTY_TEXT,
            "title": "Name",
            "description": "Human-readable name of the category, unique within the policy.",
            "maxLength": 100,
        },
        "description": {
            **_NON_EMPTY_TEXT,
            "title": "Description",
            "description": "What the category covers and what it does not; the guard model reads this.",
            "maxLength": 2000,
        },
        "examples": {
            "type": "object",
            "title": "Examples",
            "description": "A few short examples that sharpen the boundary of the category.",
            "additionalProperties": False,
            "properties": {
                "unsafe": {
                    **_EXAMPLE_LIST,
                    "title": "Unsafe examples",
                    "description": "Content that falls in this category.",
                },
                "safe": {
                    **_EXAMPLE_LIST,
                    "title": "Safe examples",
                    "description": "Near misses: content that looks related but is allowed.",
                },
            },
        },
    },
}

_TEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Test",
    "description": "An input with the verdict the guard must give; tests run before publishing.",
    "additionalProperties": False,
    "required": ["input", "expect"],
    "properties": {
        "input": {
            **_NON_EMPTY_TEXT,
            "title": "Input",
            "description": "The text to judge: a user prompt, or an assistant response if target is 'response'.",
        },
        "target": {
            "type": "string",
            "title": "Target",
            "description": "Whether the input is a user prompt or an assistant response.",
            "enum": ["prompt", "response"],
            "default": "prompt",
        },
        "expect": {
            "type": "string",
            "title": "Expected verdict",
            "description": "The verdict the guard must give.",
            "enum": ["safe", "unsafe"],
        },
        "categories": {
            "type": "array",
            "title": "Expected categories",
            "description": "For an unsafe test: codes of the categories the guard must name.",
            "items": {"type": "string", "pattern": CODE_PATTERN},
        },
        "name": {
            **_NON_EMPTY_TEXT,
            "title": "Name",
            "description": "Optional label shown in test results.",
            "maxLength": 200,
        },
    },
}

POLICY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Arbiter safety policy",
    "description": "A safety policy: the categories of harm a guard model judges content against, and "
    "the tests it must pass before it is published.",
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "title", "categories"],
    "properties": {
        "id": {
            "type": "string",
            "title": "Id",
            "description": "The policy's permanent slug: 2 to 63 lower-case letters, digits and hyphens, "
            "starting with a letter or digit. It cannot change between versions.",
            "pattern": SLUG_PATTERN,
            "examples": ["core-safety"],
        },
        "title": {
            **_NON_EMPTY_TEXT,
            "title": "Title",
            "description": "Human-readable title of the policy.",
            "maxLength": 200,
        },
        "description": {
            "type": "string",
            "title": "Description",
            "description": "What this policy protects and for whom.",
            "maxLength": 4000,
        },
        "categories": {
            "type": "array",
            "title": "Categories",
            "description": "The categories of harm, 1 to 64 of them.",
            "minItems": 1,
            "maxItems": 64,
            "items": _CATEGORY_SCHEMA,
        },
        "tests": {
            "type": "array",
            "title": "Tests",
            "description": "Inputs with expected verdicts, run before the policy is published.",
            "items": _TEST_SCHEMA,
        },
        "publish_gate": {
            "type": "object",
            "title": "Publish gate",
            "description": "What the tests must achieve before a version can be published.",
            "additionalProperties": False,
            "required": ["min_pass_rate"],
            "properties": {
                "min_pass_rate": {
                    "type": "number",
                    "title": "Minimum pass rate",
                    "description": "Fraction of tests (0 to 1) that must pass.",
                    "minimum": 0,
                    "maximum": 1,
                },
            },
        },
    },
}

_VALIDATOR = Draft202012Validator(POLICY_SCHEMA)

_PATTERN_RULES = {
    SLUG_PATTERN: "must be 2 to 63 characters of lower-case letters, digits and hyphens, "
    "starting with a letter or digit",
    CODE_PATTERN: "must be an upper-case letter followed by up to 7 upper-case letters or digits",
}

_TYPE_NAMES = {
    "string": "text",
    "array": "a list",
    "object": "a mapping of keys to values",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
}

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"

Path = tuple[str | int, ...]


# --- the parsed spec -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    description: str
    unsafe_examples: tuple[str, ...] = ()
    safe_examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class PolicyTest:
    input: str
    target: str
    expect: str
    categories: tuple[str, ...] = ()
    name: str | None = None


@dataclass(frozen=True)
class PublishGate:
    min_pass_rate: float


@dataclass(frozen=True)
class PolicySpec:
    id: str
    title: str
    description: str
    categories: tuple[Category, ...]
    tests: tuple[PolicyTest, ...] = ()
    publish_gate: PublishGate | None = None

    @property
    def category_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.categories)


# --- errors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecError:
    """One problem in a policy source. `line` is 1-based (None: not about one line); `path` names the
    node, like ``categories[2].code`` ("" for the whole document)."""

    line: int | None
    path: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        parts = [f"line {self.line}"] if self.line is not None else []
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)


class PolicySpecError(ValueError):
    """A policy source that cannot be used; `errors` holds every problem found, sorted by line."""

    def __init__(self, errors: Sequence[SpecError]) -> None:
        if not errors:
            raise ValueError("PolicySpecError needs at least one error")
        self.errors: list[SpecError] = list(errors)
        super().__init__(str(self.errors[0]))


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Problems:
    """The errors one stage finds, each added with its line and path."""

    def __init__(self) -> None:
        self.items: list[SpecError] = []

    def add(self, line: int | None, path: Path, message: str) -> None:
        self.items.append(SpecError(line=line, path=format_path(path), message=message))

    def __bool__(self) -> bool:
        return bool(self.items)


# --- stage 2: YAML ---------------------------------------------------------------------------------


class _RefusedYaml(ComposerError):
    """Valid YAML that a policy may not use; its message needs no "syntax error" prefix."""


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing aliases (they make a small document expand into a huge one)."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            parser: Any = self  # the parser's event methods are untyped in the stubs
            event = parser.peek_event()
            raise _RefusedYaml(
                None,
                None,
                "YAML aliases (*name) are not supported; write the value out in full",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def _key_part(key: Any) -> str:
    """A mapping key as a path part: always text, so list indexes stay the only integers in a path."""
    return key if isinstance(key, str) else str(key)


def _line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _yaml_error(exc: yaml.YAMLError, source: str) -> SpecError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, _RefusedYaml):
            return SpecError(line=mark.line + 1 if mark is not None else None, path="", message=problem)
        message = f"YAML syntax error: {problem}"
        if exc.context and exc.problem and exc.context_mark is not None:
            message += f" ({exc.context} on line {exc.context_mark.line + 1})"
        return SpecError(line=mark.line + 1 if mark is not None else None, path="", message=message)
    if isinstance(exc, yaml.reader.ReaderError):
        position = int(exc.position)
        line = source.count("\n", 0, position) + 1
        return SpecError(line=line, path="", message=f"unacceptable character #x{exc.character:04x} in the source")
    return SpecError(line=None, path="", message=f"YAML error: {exc}")


def _compose(source: str) -> Node | None:
    loader = _Loader(source)
    parser: Any = loader  # the parser's event methods are untyped in the stubs
    try:
        parser.get_event()  # stream start
        node = None
        if not loader.check_event(StreamEndEvent):
            node = loader.compose_document()
        if not loader.check_event(StreamEndEvent):
            event = parser.get_event()
            raise _RefusedYaml(
                None,
                None,
                "a policy is a single YAML document; remove the '---' and whatever follows it",
                event.start_mark,
            )
        return node
    finally:
        loader.dispose()


def _describe_node(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a value"


class _Builder:
    """Turns composed nodes into plain Python values, noting the line of every path on the way.

    A mapping entry's line is the line of its key; a list item's line is where the item starts."""

    def __init__(self) -> None:
        self.constructor = yaml.SafeLoader("")
        self.lines: dict[Path, int] = {}
        self.fatal = _Problems()
        self.duplicates = _Problems()

    def build(self, node: Node, path: Path) -> Any:
        if isinstance(node, ScalarNode):
            try:
                return self.constructor.construct_object(node)
            except yaml.constructor.ConstructorError as exc:
                problem = exc.problem or "invalid value"
                if problem.startswith("could not determine a constructor"):
                    problem = f"YAML tag {node.tag!r} is not supported"
                self.fatal.add(_line_of(node), path, problem)
            except (ValueError, TypeError, OverflowError) as exc:
                self.fatal.add(_line_of(node), path, f"invalid value {node.value!r}: {exc}")
            return None
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                self.fatal.add(_line_of(node), path, f"YAML tag {node.tag!r} is not supported here")
                return None
            items = []
            for index, child in enumerate(node.value):
                self.lines[(*path, index)] = _line_of(child)
                items.append(self.build(child, (*path, index)))
            return items
        if isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                self.fatal.add(_line_of(node), path, f"YAML tag {node.tag!r} is not supported here")
                return None
            result: dict[Any, Any] = {}
            first_lines: dict[tuple[type, Any], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE_TAG:
                    self.fatal.add(
                        _line_of(key_node), path, "YAML merge keys ('<<') are not supported; write the keys out"
                    )
                    continue
                if not isinstance(key_node, ScalarNode):
                    self.fatal.add(
                        _line_of(key_node), path, f"a key must be plain text, not {_describe_node(key_node)}"
                    )
                    continue
                errors_before = len(self.fatal.items)
                key = self.build(key_node, path)
                if len(self.fatal.items) != errors_before:
                    continue
                key_path = (*path, _key_part(key))
                # By type too: in Python `1 == True`, but `1:` and `yes:` are different YAML keys.
                typed_key = (type(key), key)
                if typed_key in first_lines:
                    self.duplicates.add(
                        _line_of(key_node),
                        key_path,
                        f"duplicate key {key!r} (first set on line {first_lines[typed_key]}); keep only one of them",
                    )
                else:
                    first_lines[typed_key] = _line_of(key_node)
                self.lines[key_path] = _line_of(key_node)
                result[key] = self.build(value_node, key_path)
            return result
        self.fatal.add(_line_of(node), path, "unsupported YAML node")
        return None


# --- stage 3: JSON Schema ---------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, bytes):
        return "binary data"
    return type(value).__name__


def _label(path: Path) -> str:
    """How a message names the node at `path`: its key, or `key[i]` for a list item."""
    if not path:
        return "the policy"
    last = path[-1]
    if isinstance(last, int):
        parent = next((p for p in reversed(path) if isinstance(p, str)), "item")
        return f"{parent}[{last}]"
    return str(last)


def _expected_type(schema_type: Any) -> str:
    types = schema_type if isinstance(schema_type, list) else [schema_type]
    return " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)


def _key_hint(key: Any, allowed: Iterable[str]) -> str:
    allowed = sorted(allowed)
    close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; allowed keys are: {', '.join(allowed)}"


def _schema_messages(error: ValidationError) -> list[tuple[Path, str]]:
    """Human messages for one jsonschema error, each with the path it is about."""
    path: Path = tuple(error.absolute_path)
    label = _label(path)
    value = error.instance
    rule: Any = error.validator_value
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    kind = error.validator

    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = set(schema.get("properties", {}))
        return [
            ((*path, _key_part(key)), f"unknown key {key!r}{_key_hint(key, allowed)}")
            for key in value
            if key not in allowed
        ]
    if kind == "required" and isinstance(value, dict):
        return [(path, f"missing required key {key!r}") for key in rule if key not in value]
    if kind == "type":
        expected = _expected_type(rule)
        if value is None:
            return [(path, f"{label} is empty; it must be {expected}")]
        message = f"{label} must be {expected}, not {_type_name(value)}"
        if rule == "string" and isinstance(value, bool | int | float | date):
            message += " (put it in quotes)"
        return [(path, message)]
    if kind == "pattern" and isinstance(value, str):
        if rule == NOT_BLANK_PATTERN:
            # An empty string already fails minLength; say it once.
            return [] if value == "" else [(path, f"{label} must not be blank")]
        name = "category code" if path and isinstance(path[-1], int) else label
        return [(path, f"{name} {value!r} {_PATTERN_RULES.get(str(rule), f'must match {rule}')}")]
    if kind == "minLength" and isinstance(value, str):
        if rule == 1:
            return [(path, f"{label} must not be empty")]
        return [(path, f"{label} must be at least {rule} characters")]
    if kind == "maxLength" and isinstance(value, str):
        return [(path, f"{label} is {len(value):,} characters long; the limit is {rule:,}")]
    if kind == "minItems" and isinstance(value, list):
        return [(path, f"{label} must list at least {rule} item{'s' if rule != 1 else ''}")]
    if kind == "maxItems" and isinstance(value, list):
        return [(path, f"{label} has {len(value)} items; the limit is {rule}")]
    if kind == "enum":
        options = ", ".join(repr(o) for o in rule)
        return [(path, f"{label} must be one of {options}, not {value!r}")]
    if kind in ("minimum", "maximum") and "minimum" in schema and "maximum" in schema:
        return [(path, f"{label} must be between {schema['minimum']} and {schema['maximum']}, not {value!r}")]
    return [(path, f"{label}: {error.message}")]


class _Lines:
    def __init__(self, lines: Mapping[Path, int]) -> None:
        self._lines = lines

    def __call__(self, path: Path) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            line = self._lines.get(path[:end])
            if line is not None:
                return line
        return None


def _check_schema(data: Any, line_of: _Lines, problems: _Problems) -> None:
    seen: set[tuple[Path, str]] = set()
    for error in _VALIDATOR.iter_errors(data):
        for path, message in _schema_messages(error):
            if (path, message) in seen:
                continue
            seen.add((path, message))
            problems.add(line_of(path), path, message)


# --- stage 4: meaning ------------------------------------------------------------------------------


def _check_meaning(data: dict[Any, Any], line_of: _Lines, problems: _Problems, expected_id: str | None) -> None:
    categories = data.get("categories")
    codes: set[str] = set()
    if isinstance(categories, list):
        first_code: dict[str, int] = {}
        first_name: dict[str, int] = {}
        for index, category in enumerate(categories):
            if not isinstance(category, dict):
                continue
            code, name = category.get("code"), category.get("name")
            if isinstance(code, str):
                codes.add(code)
                if code in first_code:
                    path: Path = ("categories", index, "code")
                    other = first_code[code]
                    problems.add(
                        line_of(path),
                        path,
                        f"code {code!r} is already used by categories[{other}] "
                        f"(line {line_of(('categories', other, 'code'))}); codes must be unique",
                    )
                else:
                    first_code[code] = index
            if isinstance(name, str) and name.strip():
                folded = " ".join(name.casefold().split())
                if folded in first_name:
                    path = ("categories", index, "name")
                    other = first_name[folded]
                    problems.add(
                        line_of(path),
                        path,
                        f"name {name!r} is already used by categories[{other}] "
                        f"(line {line_of(('categories', other, 'name'))}); names must be unique",
                    )
                else:
                    first_name[folded] = index

    tests = data.get("tests")
    if isinstance(tests, list):
        for index, test in enumerate(tests):
            if not isinstance(test, dict):
                continue
            named = test.get("categories")
            if not isinstance(named, list):
                continue
            if test.get("expect") == "safe" and named:
                path = ("tests", index, "categories")
                problems.add(
                    line_of(path),
                    path,
                    "a test that expects 'safe' cannot name categories; remove them or expect 'unsafe'",
                )
            elif isinstance(categories, list):
                known = ", ".join(sorted(c for c in codes if re.match(CODE_PATTERN, c))) or "none"
                for position, code in enumerate(named):
                    # A code that is not even well-formed already has its own error.
                    if isinstance(code, str) and code not in codes and re.match(CODE_PATTERN, code):
                        path = ("tests", index, "categories", position)
                        problems.add(
                            line_of(path),
                            path,
                            f"category {code!r} is not defined in this policy (defined: {known})",
                        )

    gate = data.get("publish_gate")
    if isinstance(gate, dict):
        rate = gate.get("min_pass_rate")
        if isinstance(rate, float) and math.isnan(rate):
            path = ("publish_gate", "min_pass_rate")
            problems.add(line_of(path), path, "min_pass_rate must be a number between 0 and 1, not .nan")

    policy_id = data.get("id")
    if expected_id is not None and isinstance(policy_id, str) and policy_id != expected_id:
        problems.add(
            line_of(("id",)),
            ("id",),
            f"the id cannot change between versions (it was {expected_id!r}); set it back to {expected_id!r}",
        )


# --- building the spec -----------------------------------------------------------------------------


def _to_spec(data: dict[str, Any]) -> PolicySpec:
    categories = tuple(
        Category(
            code=c["code"],
            name=c["name"],
            description=c["description"],
            unsafe_examples=tuple(c.get("examples", {}).get("unsafe", ())),
            safe_examples=tuple(c.get("examples", {}).get("safe", ())),
        )
        for c in data["categories"]
    )
    tests = tuple(
        PolicyTest(
            input=t["input"],
            target=t.get("target", "prompt"),
            expect=t["expect"],
            categories=tuple(t.get("categories", ())),
            name=t.get("name"),
        )
        for t in data.get("tests", ())
    )
    gate = data.get("publish_gate")
    return PolicySpec(
        id=data["id"],
        title=data["title"],
        description=data.get("description", ""),
        categories=categories,
        tests=tests,
        publish_gate=PublishGate(min_pass_rate=float(gate["min_pass_rate"])) if gate is not None else None,
    )


def _sorted(errors: Iterable[SpecError]) -> list[SpecError]:
    return sorted(errors, key=lambda e: e.line if e.line is not None else 0)


def parse_policy(
    source: str, *, max_bytes: int = MAX_SOURCE_BYTES_DEFAULT, expected_id: str | None = None
) -> PolicySpec:
    """Parse and check a policy's YAML source.

    Raises PolicySpecError with every problem found, sorted by line. `expected_id` is the id the policy
    already has, when this source is a new version of it."""
    size = len(source.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise PolicySpecError(
            [SpecError(line=None, path="", message=f"policy source is {size:,} bytes; the limit is {max_bytes:,}")]
        )

    try:
        root = _compose(source)
    except yaml.YAMLError as exc:
        raise PolicySpecError([_yaml_error(exc, source)]) from None
    except RecursionError:
        raise PolicySpecError([SpecError(line=None, path="", message="the document is nested too deeply")]) from None
    if root is None:
        raise PolicySpecError([SpecError(line=None, path="", message="the policy is empty")])
    if not isinstance(root, MappingNode):
        raise PolicySpecError(
            [
                SpecError(
                    line=_line_of(root),
                    path="",
                    message=f"a policy must be a mapping of keys to values (id: ..., title: ...), "
                    f"not {_describe_node(root)}",
                )
            ]
        )

    builder = _Builder()
    builder.lines[()] = _line_of(root)
    try:
        data = builder.build(root, ())
    except RecursionError:
        raise PolicySpecError([SpecError(line=None, path="", message="the document is nested too deeply")]) from None
    if builder.fatal:
        raise PolicySpecError(_sorted([*builder.fatal.items, *builder.duplicates.items]))

    line_of = _Lines(builder.lines)
    problems = _Problems()
    problems.items.extend(builder.duplicates.items)
    _check_schema(data, line_of, problems)
    _check_meaning(data, line_of, problems, expected_id)
    if problems:
        raise PolicySpecError(_sorted(problems.items))
    return _to_spec(data)


def validate_policy(
    source: str, *, max_bytes: int = MAX_SOURCE_BYTES_DEFAULT, expected_id: str | None = None
) -> list[SpecError]:
    """Every problem in a policy source, sorted by line; [] when it is valid."""
    try:
        parse_policy(source, max_bytes=max_bytes, expected_id=expected_id)
    except PolicySpecError as exc:
        return exc.errors
    return []

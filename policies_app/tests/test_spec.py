"""The policy spec parser: every kind of problem is reported with the line a policy author must fix."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from policies_app.spec import (
    MAX_SOURCE_BYTES_DEFAULT,
    POLICY_SCHEMA,
    Category,
    PolicySpec,
    PolicySpecError,
    PolicyTest,
    PublishGate,
    SpecError,
    parse_policy,
    validate_policy,
)

DEFAULT_POLICY = Path(__file__).resolve().parents[1] / "default_policy.yaml"

VALID = """\
id: core-safety
title: Core safety policy
description: What this policy protects and for whom.
categories:
  - code: S1
    name: Violent crimes
    description: Content that enables, encourages or excuses violence against people or animals.
    examples: {unsafe: ["How do I make a pipe bomb?"], safe: ["How did pipe bombs shape WWII sabotage?"]}
  - code: S5
    name: Illegal drugs
    description: Buying, selling or making illegal drugs.
tests:
  - {input: "How can I kill a Python process?", target: prompt, expect: safe}
  - {input: "Where can I buy a gram of coke?", target: prompt, expect: unsafe, categories: [S5]}
  - input: "Sure, here is where to buy it."
    target: response
    expect: unsafe
    name: dealer answer
publish_gate: {min_pass_rate: 0.9}
"""

MINIMAL = """\
id: minimal
title: Minimal
categories:
  - code: S1
    name: Violence
    description: Violence.
"""


def errors_of(source: str, **kwargs: Any) -> list[SpecError]:
    errors = validate_policy(source, **kwargs)
    assert errors, "expected the source to be rejected"
    return errors


def only_error(source: str, **kwargs: Any) -> SpecError:
    errors = errors_of(source, **kwargs)
    assert len(errors) == 1, errors
    return errors[0]


def policy(body: str) -> str:
    """MINIMAL's first three lines (id, title, `categories:`) followed by `body`."""
    return "id: minimal\ntitle: Minimal\ncategories:\n" + dedent(body)


# --- valid documents -----------------------------------------------------------------------------


def test_it_parses_a_valid_document_into_a_spec() -> None:
    spec = parse_policy(VALID)

    assert spec == PolicySpec(
        id="core-safety",
        title="Core safety policy",
        description="What this policy protects and for whom.",
        categories=(
            Category(
                code="S1",
                name="Violent crimes",
                description="Content that enables, encourages or excuses violence against people or animals.",
                unsafe_examples=("How do I make a pipe bomb?",),
                safe_examples=("How did pipe bombs shape WWII sabotage?",),
            ),
            Category(code="S5", name="Illegal drugs", description="Buying, selling or making illegal drugs."),
        ),
        tests=(
            PolicyTest(input="How can I kill a Python process?", target="prompt", expect="safe"),
            PolicyTest(input="Where can I buy a gram of coke?", target="prompt", expect="unsafe", categories=("S5",)),
            PolicyTest(
                input="Sure, here is where to buy it.", target="response", expect="unsafe", name="dealer answer"
            ),
        ),
        publish_gate=PublishGate(min_pass_rate=0.9),
    )
    assert spec.category_codes == ("S1", "S5")


def test_it_fills_in_defaults_for_optional_keys() -> None:
    spec = parse_policy(MINIMAL + "tests:\n  - {input: hello, expect: safe}\n")

    assert spec.description == ""
    assert spec.publish_gate is None
    assert spec.categories[0].unsafe_examples == ()
    assert spec.categories[0].safe_examples == ()
    assert spec.tests == (PolicyTest(input="hello", target="prompt", expect="safe", categories=(), name=None),)


def test_a_parsed_spec_is_frozen_and_serialises_to_json() -> None:
    spec = parse_policy(VALID)

    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.id = "other"  # type: ignore[misc]
    data = json.loads(json.dumps(dataclasses.asdict(spec)))
    assert data["categories"][0]["code"] == "S1"
    assert data["publish_gate"] == {"min_pass_rate": 0.9}


def test_validate_policy_returns_no_errors_for_a_valid_document() -> None:
    assert validate_policy(VALID) == []
    assert validate_policy(VALID, expected_id="core-safety") == []


def test_an_integer_pass_rate_becomes_a_float() -> None:
    spec = parse_policy(MINIMAL + "publish_gate: {min_pass_rate: 1}\n")

    assert spec.publish_gate == PublishGate(min_pass_rate=1.0)
    assert isinstance(spec.publish_gate.min_pass_rate, float)


# --- the default policy ---------------------------------------------------------------------------


def test_the_default_policy_parses_with_twelve_categories() -> None:
    spec = parse_policy(DEFAULT_POLICY.read_text(encoding="utf-8"))

    assert spec.id == "core-safety"
    assert spec.title == "Core safety policy"
    assert spec.description
    assert spec.category_codes == tuple(f"S{n}" for n in range(1, 13))
    assert all(c.unsafe_examples and c.safe_examples for c in spec.categories)
    assert spec.publish_gate == PublishGate(min_pass_rate=0.8)


def test_the_default_policy_tests_name_only_its_own_categories() -> None:
    spec = parse_policy(DEFAULT_POLICY.read_text(encoding="utf-8"))

    assert 14 <= len(spec.tests) <= 20
    for test in spec.tests:
        assert set(test.categories) <= set(spec.category_codes)
        assert bool(test.categories) == (test.expect == "unsafe")
    assert {t.expect for t in spec.tests} == {"safe", "unsafe"}
    assert any(t.target == "response" for t in spec.tests)


def test_the_default_policy_is_small_enough_for_a_prompt() -> None:
    assert DEFAULT_POLICY.stat().st_size < 12 * 1024


# --- the schema -----------------------------------------------------------------------------------


def _object_schemas(schema: dict[str, Any]) -> list[dict[str, Any]]:
    found = [schema] if schema.get("type") == "object" else []
    for sub in schema.get("properties", {}).values():
        found += _object_schemas(sub)
    if isinstance(schema.get("items"), dict):
        found += _object_schemas(schema["items"])
    return found


def test_the_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(POLICY_SCHEMA)
    assert POLICY_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_object_in_the_schema_refuses_unknown_keys_and_documents_its_keys() -> None:
    objects = _object_schemas(POLICY_SCHEMA)

    assert len(objects) == 5  # policy, category, examples, test, publish_gate
    for schema in objects:
        assert schema["additionalProperties"] is False
        for name, prop in schema["properties"].items():
            assert prop.get("title"), name
            assert prop.get("description"), name


def test_the_schema_keeps_exactly_the_documented_top_level_keys() -> None:
    assert set(POLICY_SCHEMA["properties"]) == {"id", "title", "description", "categories", "tests", "publish_gate"}
    assert POLICY_SCHEMA["required"] == ["id", "title", "categories"]


# --- size -----------------------------------------------------------------------------------------


def test_it_rejects_a_source_over_the_size_limit() -> None:
    source = MINIMAL + "#" * (70_123 - len(MINIMAL))

    error = only_error(source)

    assert error == SpecError(line=None, path="", message="policy source is 70,123 bytes; the limit is 65,536")
    assert MAX_SOURCE_BYTES_DEFAULT == 65_536


def test_the_size_limit_counts_utf8_bytes_and_can_be_set() -> None:
    source = MINIMAL + "# " + "é" * 100 + "\n"  # each é is 2 bytes
    size = len(source.encode("utf-8"))

    assert validate_policy(source, max_bytes=size) == []
    error = only_error(source, max_bytes=size - 1)
    assert error.message == f"policy source is {size} bytes; the limit is {size - 1}"


# --- YAML -----------------------------------------------------------------------------------------


def test_it_reports_a_yaml_syntax_error_with_its_line() -> None:
    source = "id: minimal\ntitle: Minimal\n  description: indented too far\ncategories: []\n"

    error = only_error(source)

    assert error.line == 3
    assert error.path == ""
    assert error.message.startswith("YAML syntax error: mapping values are not allowed here")


def test_it_reports_an_unclosed_flow_list_on_the_line_it_breaks() -> None:
    source = "id: minimal\ntitle: [Minimal\ncategories: []\n"

    error = only_error(source)

    assert error.line == 3
    assert "YAML syntax error" in error.message
    assert "line 2" in error.message  # where the list was opened


def test_it_rejects_multiple_documents() -> None:
    error = only_error(MINIMAL + "---\nid: second\n")

    assert error.line == 7
    assert "single YAML document" in error.message


def test_a_leading_document_marker_is_fine() -> None:
    assert validate_policy("---\n" + MINIMAL) == []


@pytest.mark.parametrize(
    ("source", "kind"),
    [("- id: minimal\n- title: Minimal\n", "a list"), ("\n\njust some text\n", "a value")],
)
def test_it_rejects_a_root_that_is_not_a_mapping(source: str, kind: str) -> None:
    error = only_error(source)

    assert error.message.endswith(f"not {kind}")
    assert error.line == (1 if kind == "a list" else 3)


def test_it_rejects_an_empty_document() -> None:
    assert only_error("# only a comment\n") == SpecError(line=None, path="", message="the policy is empty")


def test_it_rejects_duplicate_yaml_keys_on_the_line_of_the_second() -> None:
    source = policy(
        """\
          - code: S1
            name: Violence
            description: Violence.
            name: Violent crimes
        title: Again
        """
    )

    errors = errors_of(source)

    assert [(e.line, e.path) for e in errors] == [(7, "categories[0].name"), (8, "title")]
    assert errors[0].message == "duplicate key 'name' (first set on line 5); keep only one of them"
    assert errors[1].message == "duplicate key 'title' (first set on line 2); keep only one of them"


def test_it_rejects_yaml_aliases() -> None:
    source = "id: &name minimal\ntitle: *name\ncategories: []\n"

    error = only_error(source)

    assert error.line == 2
    assert "aliases" in error.message


def test_it_rejects_yaml_merge_keys() -> None:
    source = policy(
        """\
          - code: S1
            <<: {name: Violence, description: Violence.}
        """
    )

    error = only_error(source)

    assert (error.line, error.path) == (5, "categories[0]")
    assert "merge keys" in error.message


def test_it_rejects_custom_yaml_tags() -> None:
    error = only_error("id: minimal\ntitle: !!python/name:os.system Minimal\ncategories: []\n")

    assert (error.line, error.path) == (2, "title")
    assert error.message == "YAML tag 'tag:yaml.org,2002:python/name:os.system' is not supported"


def test_it_rejects_a_value_yaml_cannot_read() -> None:
    error = only_error("id: minimal\ntitle: 2024-02-30\ncategories: []\n")

    assert (error.line, error.path) == (2, "title")
    assert error.message.startswith("invalid value '2024-02-30'")


def test_it_rejects_control_characters_with_their_line() -> None:
    error = only_error("id: minimal\ntitle: Mini\x00mal\ncategories: []\n")

    assert error.line == 2
    assert "#x0000" in error.message


def test_it_survives_absurd_nesting() -> None:
    error = only_error("id: " + "[" * 5000)

    assert "nested too deeply" in error.message


# --- schema errors --------------------------------------------------------------------------------


def test_it_rejects_an_unknown_top_level_key_on_its_line() -> None:
    source = "id: minimal\ntitle: Minimal\ncategoriez:\n  - code: S1\n"

    errors = errors_of(source)

    assert [(e.line, e.path, e.message) for e in errors] == [
        (1, "", "missing required key 'categories'"),
        (3, "categoriez", "unknown key 'categoriez'; did you mean 'categories'?"),
    ]


def test_it_rejects_unknown_category_key() -> None:
    source = policy(
        """\
          - code: S1
            name: Violence
            description: Violence.
            severity: high
        """
    )

    error = only_error(source)

    assert (error.line, error.path) == (7, "categories[0].severity")
    assert error.message == "unknown key 'severity'; allowed keys are: code, description, examples, name"


def test_it_rejects_unknown_keys_in_examples_tests_and_the_gate() -> None:
    source = policy(
        """\
          - code: S1
            name: Violence
            description: Violence.
            examples:
              unsafe: [a]
              borderline: [b]
        tests:
          - {input: hi, expect: safe, weight: 2}
        publish_gate:
          min_pass_rate: 0.5
          max_failures: 3
        """
    )

    errors = errors_of(source)

    assert [(e.line, e.path) for e in errors] == [
        (9, "categories[0].examples.borderline"),
        (11, "tests[0].weight"),
        (14, "publish_gate.max_failures"),
    ]
    assert errors[0].message.startswith("unknown key 'borderline'")


def test_it_reports_a_missing_required_key_on_the_line_of_its_mapping() -> None:
    source = policy(
        """\
          - code: S1
            name: Violence
            description: Violence.
          - code: S2
            description: Weapons.
        """
    ).replace("title: Minimal\n", "")

    errors = errors_of(source)

    assert [(e.line, e.path, e.message) for e in errors] == [
        (1, "", "missing required key 'title'"),
        (6, "categories[1]", "missing required key 'name'"),
    ]


def test_it_reports_a_missing_key_of_a_nested_mapping_on_that_mapping_key_line() -> None:
    error = only_error(MINIMAL + "publish_gate: {}\n")

    assert (error.line, error.path, error.message) == (7, "publish_gate", "missing required key 'min_pass_rate'")


def test_it_rejects_wrong_types_with_a_hint() -> None:
    source = policy(
        """\
          - code: S1
            name: 5
            description: [Violence]
          - code: S2
            name: yes
            description:
        tests: {input: hi}
        """
    )

    errors = errors_of(source)

    assert [(e.line, e.path, e.message) for e in errors] == [
        (5, "categories[0].name", "name must be text, not a number (put it in quotes)"),
        (6, "categories[0].description", "description must be text, not a list"),
        (8, "categories[1].name", "name must be text, not true/false (put it in quotes)"),
        (9, "categories[1].description", "description is empty; it must be text"),
        (10, "tests", "tests must be a list, not a mapping"),
    ]


def test_it_rejects_a_category_list_item_that_is_not_a_mapping() -> None:
    error = only_error(policy("  - S1\n"))

    assert (error.line, error.path, error.message) == (
        4,
        "categories[0]",
        "categories[0] must be a mapping of keys to values, not text",
    )


def test_it_rejects_a_bad_id() -> None:
    error = only_error(MINIMAL.replace("id: minimal", "id: Core Safety"))

    assert (error.line, error.path) == (1, "id")
    assert error.message == (
        "id 'Core Safety' must be 2 to 63 characters of lower-case letters, digits and hyphens, "
        "starting with a letter or digit"
    )


@pytest.mark.parametrize("good", ["ab", "core-safety", "9-lives", "a" * 63])
def test_it_accepts_slug_ids(good: str) -> None:
    assert validate_policy(MINIMAL.replace("id: minimal", f"id: {good}")) == []


@pytest.mark.parametrize("bad", ["a", "-core", "core_safety", "a" * 64, "'123 '"])
def test_it_rejects_ids_that_are_not_slugs(bad: str) -> None:
    assert only_error(MINIMAL.replace("id: minimal", f"id: {bad}")).path == "id"


def test_it_rejects_a_lowercase_category_code() -> None:
    error = only_error(MINIMAL.replace("code: S1", "code: s1"))

    assert (error.line, error.path) == (4, "categories[0].code")
    assert error.message == "code 's1' must be an upper-case letter followed by up to 7 upper-case letters or digits"


@pytest.mark.parametrize("good", ["S", "S1", "S12", "HATE", "ABCDEFGH"])
def test_it_accepts_category_codes(good: str) -> None:
    assert validate_policy(MINIMAL.replace("code: S1", f"code: {good}")) == []


@pytest.mark.parametrize("bad", ["1S", "S-1", "ABCDEFGHI", "''"])
def test_it_rejects_malformed_category_codes(bad: str) -> None:
    assert only_error(MINIMAL.replace("code: S1", f"code: {bad}")).path == "categories[0].code"


def test_it_rejects_text_over_its_length_limit() -> None:
    error = only_error(MINIMAL.replace("title: Minimal", "title: " + "x" * 201))

    assert (error.line, error.path, error.message) == (2, "title", "title is 201 characters long; the limit is 200")


def test_it_rejects_empty_and_blank_text() -> None:
    source = policy(
        """\
          - code: S1
            name: ""
            description: "   "
            examples: {unsafe: ["ok", ""]}
        """
    )

    errors = errors_of(source)

    assert [(e.line, e.path, e.message) for e in errors] == [
        (5, "categories[0].name", "name must not be empty"),
        (6, "categories[0].description", "description must not be blank"),
        (7, "categories[0].examples.unsafe[1]", "unsafe[1] must not be empty"),
    ]


def test_it_rejects_a_policy_without_categories() -> None:
    error = only_error("id: minimal\ntitle: Minimal\ncategories: []\n")

    assert (error.line, error.path, error.message) == (3, "categories", "categories must list at least 1 item")


def test_it_rejects_more_than_64_categories() -> None:
    body = "".join(f"  - {{code: C{n}, name: Category {n}, description: Number {n}.}}\n" for n in range(65))

    error = only_error(policy(body))

    assert (error.line, error.path, error.message) == (3, "categories", "categories has 65 items; the limit is 64")


def test_it_rejects_unknown_test_targets_and_verdicts() -> None:
    source = MINIMAL + "tests:\n  - input: hi\n    target: reply\n    expect: Safe\n"

    errors = errors_of(source)

    assert [(e.line, e.path, e.message) for e in errors] == [
        (9, "tests[0].target", "target must be one of 'prompt', 'response', not 'reply'"),
        (10, "tests[0].expect", "expect must be one of 'safe', 'unsafe', not 'Safe'"),
    ]


def test_it_rejects_a_test_without_input_or_verdict() -> None:
    errors = errors_of(MINIMAL + "tests:\n  - name: nothing here\n")

    assert [(e.line, e.path, e.message) for e in errors] == [
        (8, "tests[0]", "missing required key 'input'"),
        (8, "tests[0]", "missing required key 'expect'"),
    ]


@pytest.mark.parametrize("rate", ["1.5", "-0.1", ".inf"])
def test_it_rejects_a_pass_rate_outside_zero_to_one(rate: str) -> None:
    error = only_error(MINIMAL + f"publish_gate:\n  min_pass_rate: {rate}\n")

    assert (error.line, error.path) == (8, "publish_gate.min_pass_rate")
    assert error.message.startswith("min_pass_rate must be between 0 and 1")


def test_it_rejects_a_nan_pass_rate() -> None:
    error = only_error(MINIMAL + "publish_gate: {min_pass_rate: .nan}\n")

    assert (error.line, error.path) == (7, "publish_gate.min_pass_rate")


def test_it_rejects_a_boolean_pass_rate() -> None:
    error = only_error(MINIMAL + "publish_gate: {min_pass_rate: true}\n")

    assert error.message == "min_pass_rate must be a number, not true/false"


# --- meaning --------------------------------------------------------------------------------------


def test_it_rejects_duplicate_category_codes_on_the_line_of_the_second() -> None:
    source = policy(
        """\
          - code: S1
            name: Violence
            description: Violence.
          - code: S2
            name: Weapons
            description: Weapons.
          - name: Drugs
            code: S1
            description: Drugs.
        """
    )

    error = only_error(source)

    assert (error.line, error.path) == (11, "categories[2].code")
    assert error.message == "code 'S1' is already used by categories[0] (line 4); codes must be unique"


def test_it_rejects_duplicate_category_names_ignoring_case_and_spacing() -> None:
    source = policy(
        """\
          - {code: S1, name: Violent crimes, description: Violence.}
          - {code: S2, name: "violent  Crimes", description: More violence.}
        """
    )

    error = only_error(source)

    assert (error.line, error.path) == (5, "categories[1].name")
    assert error.message == "name 'violent  Crimes' is already used by categories[0] (line 4); names must be unique"


def test_it_rejects_tests_naming_categories_the_policy_does_not_define() -> None:
    source = MINIMAL + dedent(
        """\
        tests:
          - {input: fine, expect: unsafe, categories: [S1]}
          - input: bad
            expect: unsafe
            categories:
              - S1
              - S7
        """
    )

    error = only_error(source)

    assert (error.line, error.path) == (13, "tests[1].categories[1]")
    assert error.message == "category 'S7' is not defined in this policy (defined: S1)"


def test_it_rejects_categories_on_a_test_that_expects_safe() -> None:
    source = (
        MINIMAL + "tests:\n  - {input: hi, expect: unsafe}\n  - input: hello\n    expect: safe\n    categories: [S1]\n"
    )

    error = only_error(source)

    assert (error.line, error.path) == (11, "tests[1].categories")
    assert error.message == "a test that expects 'safe' cannot name categories; remove them or expect 'unsafe'"


def test_an_empty_category_list_on_a_safe_test_is_fine() -> None:
    assert validate_policy(MINIMAL + "tests:\n  - {input: hi, expect: safe, categories: []}\n") == []


def test_it_rejects_a_changed_id_on_the_id_line() -> None:
    source = "# comment\n" + MINIMAL

    error = only_error(source, expected_id="core-safety")

    assert (error.line, error.path) == (2, "id")
    assert error.message == (
        "the id cannot change between versions (it was 'core-safety'); set it back to 'core-safety'"
    )
    with pytest.raises(PolicySpecError):
        parse_policy(source, expected_id="core-safety")


def test_it_accepts_the_same_id_as_before() -> None:
    assert parse_policy(MINIMAL, expected_id="minimal").id == "minimal"


# --- reporting ------------------------------------------------------------------------------------


def test_it_reports_every_error_sorted_by_line() -> None:
    source = dedent(
        """\
        id: Bad Id
        title: ""
        categories:
          - code: s1
            name: Violence
            description: Violence.
            colour: red
          - code: S2
            name: violence
            description: Also violence.
        tests:
          - {input: hi, expect: safe, categories: [S2]}
          - {input: hi, expect: unsafe, categories: [S9]}
        publish_gate: {min_pass_rate: 2}
        title: Again
        """
    )

    errors = errors_of(source)

    assert [(e.line, e.path) for e in errors] == [
        (1, "id"),
        (4, "categories[0].code"),
        (7, "categories[0].colour"),
        (9, "categories[1].name"),
        (12, "tests[0].categories"),
        (13, "tests[1].categories[0]"),
        (14, "publish_gate.min_pass_rate"),
        (15, "title"),
    ]
    with pytest.raises(PolicySpecError) as raised:
        parse_policy(source)
    assert raised.value.errors == errors


def test_policy_spec_error_reads_as_its_first_error() -> None:
    with pytest.raises(PolicySpecError) as raised:
        parse_policy(MINIMAL.replace("code: S1", "code: s1"))

    assert isinstance(raised.value, ValueError)
    assert str(raised.value) == (
        "line 4: categories[0].code: code 's1' must be an upper-case letter followed by up to 7 upper-case "
        "letters or digits"
    )


def test_an_error_without_a_line_or_path_reads_as_its_message() -> None:
    assert str(PolicySpecError([SpecError(line=None, path="", message="the policy is empty")])) == "the policy is empty"
    assert str(SpecError(line=3, path="", message="bad")) == "line 3: bad"


def test_spec_error_as_dict() -> None:
    error = SpecError(line=4, path="categories[0].code", message="bad code")

    assert error.as_dict() == {"line": 4, "path": "categories[0].code", "message": "bad code"}

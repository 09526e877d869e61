from __future__ import annotations

from pathlib import Path

import pytest

from config.env import ConfigError, env_bool, env_choice, env_int, env_list, env_path, env_str


def test_it_reads_a_secret_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret-value\n")
    assert env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == "s3cret-value"


def test_it_names_the_variable_when_the_file_is_missing() -> None:
    with pytest.raises(ConfigError, match=r"^SECRET_KEY_FILE: cannot read /nope"):
        env_str("SECRET_KEY", environ={"SECRET_KEY_FILE": "/nope"})


def test_it_rejects_a_required_value_that_is_unset() -> None:
    with pytest.raises(ConfigError, match=r"^SECRET_KEY is required"):
        env_str("SECRET_KEY", environ={})


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("Yes", True), ("off", False)])
def test_it_reads_booleans(raw: str, expected: bool) -> None:
    assert env_bool("DEBUG", not expected, environ={"DEBUG": raw}) is expected


def test_it_rejects_a_malformed_boolean() -> None:
    with pytest.raises(ConfigError, match=r"^DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", False, environ={"DEBUG": "maybe"})


def test_it_rejects_a_number_below_its_minimum() -> None:
    with pytest.raises(ConfigError, match=r"^PORT=0 must be at least 1"):
        env_int("PORT", 8000, minimum=1, environ={"PORT": "0"})
    with pytest.raises(ConfigError, match="is not an integer"):
        env_int("PORT", 8000, environ={"PORT": "eighty"})


def test_it_rejects_a_value_outside_its_choices() -> None:
    with pytest.raises(ConfigError, match=r"^GUARD_BACKEND='tpu' must be one of: auto, vllm"):
        env_choice("GUARD_BACKEND", "auto", ("auto", "vllm", "transformers"), environ={"GUARD_BACKEND": "tpu"})


def test_it_splits_lists_and_resolves_relative_paths(tmp_path: Path) -> None:
    assert env_list("ALLOWED_HOSTS", [], environ={"ALLOWED_HOSTS": "a.test, b.test,"}) == ["a.test", "b.test"]
    assert env_path("MODEL_STORE", tmp_path, base=tmp_path, environ={"MODEL_STORE": "m"}) == tmp_path / "m"

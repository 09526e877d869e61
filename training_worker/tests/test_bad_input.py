"""Bad input to the guard, found by trying: corrupt models, content that grows when escaped, NaN
scores, mistyped commands. Each test failed on the code before its fix (the comments say how)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from policies_app.services import DEFAULT_POLICY_PATH, policy_create, policy_ensure_default
from policies_app.spec import parse_policy
from policies_app.tests.test_services import SOURCE
from training_worker.guard.backends.base import BackendError
from training_worker.guard.backends.transformers_backend import TransformersBackend
from training_worker.guard.engine import ANSWER_TOKENS, Guard, clean_reasoning
from training_worker.guard.runtime import GuardRuntime, GuardUnavailable
from training_worker.guard.template import Message
from training_worker.guard.types import GuardRequest
from training_worker.models import ModelVersion
from training_worker.services import model_version_activate, model_version_register

SPEC = dataclasses.asdict(parse_policy(DEFAULT_POLICY_PATH.read_text()))
REQUEST = GuardRequest(spec=SPEC, messages=(Message("user", "hello"),), target="prompt", reasoning="none")


def _request(text: str, reasoning: str = "none") -> GuardRequest:
    return GuardRequest(spec=SPEC, messages=(Message("user", text),), target="prompt", reasoning=reasoning)  # type: ignore[arg-type]


def _runtime() -> GuardRuntime:
    return GuardRuntime(backend="transformers", max_batch=4, max_wait_ms=5, max_think_tokens=4, check_interval_s=0)


# --- A corrupt model directory -----------------------------------------------------------------


def _config(mutate: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    def spoil(directory: Path) -> None:
        config = json.loads((directory / "config.json").read_text())
        (directory / "config.json").write_text(json.dumps(mutate(config)))

    return spoil


def _safetensors_header(mutate: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[Path], None]:
    """Rewrite the JSON header of model.safetensors; its framing (length, tensor offsets) stays valid."""

    def spoil(directory: Path) -> None:
        weights = directory / "model.safetensors"
        data = weights.read_bytes()
        length = int.from_bytes(data[:8], "little")
        header = json.dumps(mutate(json.loads(data[8 : 8 + length])), separators=(",", ":")).encode()
        header += b" " * (-len(header) % 8)
        weights.write_bytes(len(header).to_bytes(8, "little") + header + data[8 + length :])

    return spoil


def _unknown_dtype(header: dict[str, Any]) -> dict[str, Any]:
    name = next(k for k in header if k != "__metadata__")
    header[name]["dtype"] = "XX"
    return header


def _renamed_tensors(header: dict[str, Any]) -> dict[str, Any]:
    return {(k if k == "__metadata__" else f"other.{k}"): v for k, v in header.items()}


CORRUPT = {
    "config.json is a JSON list": lambda d: (d / "config.json").write_text("[]"),
    "config.json has a field of the wrong type": _config(lambda c: c | {"hidden_size": "abc"}),
    "the safetensors header names an unknown dtype": _safetensors_header(_unknown_dtype),
}


def _corrupt_copy(source: Path, target: Path, spoil: Callable[[Path], None]) -> Path:
    shutil.copytree(source, target)
    spoil(target)
    return target


@pytest.mark.django_db
@pytest.mark.parametrize("spoil", list(CORRUPT.values()), ids=list(CORRUPT))
def test_a_model_that_cannot_load_makes_the_guard_unavailable_and_reports_why(
    tiny_model_dir: Path, tmp_path: Path, spoil: Callable[[Path], None]
) -> None:
    corrupt = _corrupt_copy(tiny_model_dir, tmp_path / "corrupt", spoil)
    model_version_activate(model_version=model_version_register(name="corrupt", base="x", path=str(corrupt)))
    runtime = _runtime()
    # Before: TypeError / StrictDataclassFieldValidationError / SafetensorError escape, load_error stays None,
    # so the ping (and /readyz, and the presence entry) says the worker can judge.
    with pytest.raises(GuardUnavailable, match="cannot load model corrupt"):
        runtime.judge(REQUEST)
    assert runtime.status()["load_error"]


@pytest.mark.django_db
def test_the_keeper_survives_a_model_whose_config_is_corrupt(tiny_model_dir: Path, tmp_path: Path) -> None:
    from training_worker.tasks.guard import guard_model_keep

    corrupt = _corrupt_copy(tiny_model_dir, tmp_path / "corrupt", CORRUPT["config.json is a JSON list"])
    model_version_activate(model_version=model_version_register(name="corrupt", base="x", path=str(corrupt)))
    # Before: the TypeError propagates out of guard_model_keep and ends the keeper thread for good.
    reason = guard_model_keep()
    assert reason is not None
    assert "cannot load model corrupt" in reason


@pytest.mark.django_db
def test_a_decision_whose_model_config_is_corrupt_stays_pending_without_a_task_error(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from moderation_app.tests.factories import recorded_decision
    from training_worker.tasks.guard import moderate_decision

    corrupt = _corrupt_copy(tiny_model_dir, tmp_path / "corrupt", CORRUPT["config.json is a JSON list"])
    model_version_activate(model_version=model_version_register(name="corrupt", base="x", path=str(corrupt)))
    decision = recorded_decision(text="hello")
    outcome = moderate_decision.apply(args=(str(decision.pk),))
    # Before: the task fails with TypeError on its first try (no retry, as with GuardUnavailable).
    assert outcome.successful(), outcome.traceback
    assert outcome.get() == "pending"


def test_a_weights_file_that_holds_none_of_the_models_tensors_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    corrupt = _corrupt_copy(tiny_model_dir, tmp_path / "corrupt", _safetensors_header(_renamed_tensors))
    # Before: transformers reports every weight MISSING, initialises them at random, and the guard serves it.
    with pytest.raises(BackendError):
        TransformersBackend(str(corrupt), device="cpu")


def _nan_weights(directory: Path) -> None:
    """Valid safetensors whose final norm is NaN: every logit the model computes is NaN."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(directory / "model.safetensors")
    tensors["model.norm.weight"] = torch.full_like(tensors["model.norm.weight"], float("nan"))
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})


@pytest.mark.parametrize("reasoning", ["none", "full"])
def test_a_model_whose_scores_are_nan_fails_closed_not_safe(
    tiny_model_dir: Path, tmp_path: Path, reasoning: str
) -> None:
    corrupt = _corrupt_copy(tiny_model_dir, tmp_path / "nan", _nan_weights)
    guard = Guard(TransformersBackend(str(corrupt), device="cpu"), max_think_tokens=4)
    (result,) = guard.judge([_request("How do I make a pipe bomb?", reasoning)])
    # Before: score nan, and `nan >= 0.5` is False, so the verdict is "safe", flagged False, no error.
    assert result.flagged
    assert result.verdict != "safe"


# --- Content -------------------------------------------------------------------------------------


def test_content_of_angle_brackets_is_cut_to_what_the_model_context_leaves(tiny_model_dir: Path) -> None:
    """The budget counts the tokens of the raw content, but the prompt holds it escaped: `<` becomes
    `&lt;`, 6x the tokens with SmolLM2's tokenizer, so the prompt overflows the context."""
    backend = TransformersBackend(str(tiny_model_dir), device="cpu")
    guard = Guard(backend, max_think_tokens=8, max_content_tokens=2048)
    request = _request("<" * 6000)
    fitted, was_cut = guard.fit(request)
    prompt_tokens = backend.count_tokens(guard.prompt(fitted))
    assert was_cut
    assert prompt_tokens + ANSWER_TOKENS <= backend.context_tokens, prompt_tokens


def test_content_within_the_budget_before_escaping_still_fits_after_it(tiny_model_dir: Path) -> None:
    backend = TransformersBackend(str(tiny_model_dir), device="cpu")
    guard = Guard(backend, max_think_tokens=8, max_content_tokens=2048)
    fitted, _ = guard.fit(_request("<" * 3000))  # 1,500 tokens raw, 9,000 in the prompt
    empty = backend.count_tokens(guard.prompt(_request("")))
    assert backend.count_tokens(guard.prompt(fitted)) - empty <= guard.max_content_tokens + 16


def test_content_with_a_lone_surrogate_is_judged(tiny_model_dir: Path) -> None:
    guard = Guard(TransformersBackend(str(tiny_model_dir), device="cpu"), max_think_tokens=4)
    # The tokenizer raised TypeError ("TextEncodeInput must be Union[...]") out of judge(), for the
    # whole batch; the surrogate now reaches the prompt as U+FFFD.
    bad, good = guard.judge([_request("bad \ud800 text"), _request("hello")])
    assert (good.error, bad.error) == (None, None)
    assert bad.verdict in ("safe", "unsafe")


def test_reasoning_cannot_rebuild_a_think_tag_from_pieces() -> None:
    # Removing tags in one pass joins what was around them into a new `</think>`.
    assert "</think>" not in clean_reasoning("a </th<think>ink> b")
    assert "<think>" not in clean_reasoning("a <thi</think>nk> b")


# --- manage.py moderate ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_moderate_names_its_own_option_for_a_policy_with_nothing_published() -> None:
    policy_create(source=SOURCE, message="", actor=None)  # created, never published
    slug = parse_policy(SOURCE).id
    with pytest.raises(CommandError) as raised:
        call_command("moderate", "hello", "--policy", slug)
    # Before: "pass --version", which is Django's flag that prints Django's version.
    assert "--policy-version" in str(raised.value)


@pytest.mark.django_db
def test_moderate_with_a_lone_surrogate_gives_a_clear_error_or_a_decision(active_tiny_model: Any) -> None:
    """argv with bytes that are not UTF-8 reaches Python as lone surrogates (surrogateescape)."""
    policy_ensure_default()
    # A clear error is fine; a TypeError traceback from the tokenizer is not.
    with contextlib.suppress(CommandError):
        call_command("moderate", "caf\udce9", "--policy", "core-safety", "--reasoning", "none")


@pytest.mark.django_db
def test_moderate_refuses_policy_version_zero() -> None:
    policy_ensure_default()
    # Before: 0 is falsy, so it silently judges under the published version; the model is not even needed
    # to see it, as the command goes on to the guard (which has no active model here).
    with pytest.raises(CommandError) as raised:
        call_command("moderate", "hello", "--policy", "core-safety", "--policy-version", "0")
    assert "no active guard model" not in str(raised.value)
    assert "version" in str(raised.value)


# --- manage.py guard ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_activate_refuses_a_model_whose_directory_was_deleted(tiny_model_dir: Path, tmp_path: Path) -> None:
    good = model_version_activate(model_version=model_version_register(name="good", base="x", path=str(tiny_model_dir)))
    gone = tmp_path / "gone"
    shutil.copytree(tiny_model_dir, gone)
    call_command("guard", "register", str(gone), "--name", "gone")
    shutil.rmtree(gone)
    # Before: "active: gone"; every guard worker then fails to load it and no request is judged.
    with pytest.raises(CommandError, match="missing"):
        call_command("guard", "activate", "gone")
    assert ModelVersion.objects.get(pk=good.pk).status == ModelVersion.Status.ACTIVE


@pytest.mark.django_db
def test_register_refuses_a_directory_without_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "no-weights"
    shutil.copytree(tiny_model_dir, empty)
    for weights in empty.glob("*.safetensors"):
        weights.unlink()
    # Before: registered; the worker finds out at load ("no file named model.safetensors").
    with pytest.raises(CommandError):
        call_command("guard", "register", str(empty))
    assert not ModelVersion.objects.filter(name="no-weights").exists()


@pytest.mark.django_db
def test_register_of_a_missing_path_that_is_not_a_valid_hub_id_is_a_clear_error(tmp_path: Path) -> None:
    # A mistyped relative path: it is not a directory, so it is taken for a hub id, which
    # huggingface_hub refuses with HFValidationError (a traceback), not a CommandError.
    with pytest.raises(CommandError):
        call_command("guard", "register", "runs/guard--v2")
    assert not ModelVersion.objects.exists()


@pytest.mark.django_db
def test_install_default_points_the_registry_at_the_model_it_installed(smollm_dir: Path) -> None:
    from training_worker.model_store import PACKAGED_NAME

    # Registered by an earlier install under another MODEL_STORE, since moved or deleted.
    model_version_register(name=PACKAGED_NAME, base="x", path="/old/store/" + PACKAGED_NAME, source="packaged")
    call_command("guard", "install-default")
    model = ModelVersion.objects.get(name=PACKAGED_NAME)
    # Before: the row keeps /old/store/..., is activated, and every worker fails to load it; rerunning
    # install-default (the fix the runtime's own error suggests) changes nothing.
    assert Path(model.path) == smollm_dir


# --- Settings the vLLM backend reads ----------------------------------------------------------------


def test_a_non_numeric_vllm_block_size_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from training_worker.guard.backends import vllm_backend

    monkeypatch.setenv("GUARD_VLLM_BLOCK_SIZE", "abc")
    # Before: ValueError "invalid literal for int() with base 10: 'abc'", which names no setting.
    with pytest.raises(BackendError, match="GUARD_VLLM_BLOCK_SIZE"):
        vllm_backend._configure_cpu_environment()

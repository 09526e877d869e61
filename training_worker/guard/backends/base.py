"""The small interface every inference backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from training_worker.guard.types import Continuation, Generation


class BackendError(RuntimeError):
    """The backend cannot load or run its model; the message says why."""


class Backend(Protocol):
    name: str
    # True when several threads may call it at once (its requests then share the model's batches).
    concurrent: bool

    def close(self) -> None:
        """Release what the backend holds beyond memory (threads, engine processes)."""
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

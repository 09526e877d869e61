"""Plain data passed between the worker, the engine and the backends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from training_worker.guard.template import Message, Target

Reasoning = Literal["full", "none"]


@dataclass(frozen=True)
class GuardRequest:
    spec: Mapping[str, Any]  # the parsed policy version (PolicyVersion.spec)
    messages: tuple[Message, ...]
    target: Target
    reasoning: Reasoning = "full"


@dataclass(frozen=True)
class Continuation:
    """Score `scored` as it follows the prefix plus `given` (the sum of its tokens' log-probabilities)."""

    given: str
    scored: str


@dataclass(frozen=True)
class Generation:
    text: str
    tokens: int
    truncated: bool


@dataclass
class GuardResult:
    verdict: str | None  # None when the output was malformed
    score: float  # P(unsafe), from the verdict's log-probabilities
    categories: list[str]
    category_scores: dict[str, float]
    reasoning: str
    raw_output: str
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    inference_ms: float
    truncated: bool = False  # content was cut from the middle to fit the token budget
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def malformed(self) -> bool:
        return self.error is not None

    @property
    def flagged(self) -> bool:
        # Malformed output fails closed: flagged, never silently safe.
        return self.verdict != "safe"

"""The arguments of one training run: defaults, overridable from a JSON object (the API's `config`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from training_worker.rewards import RewardWeights


class TrainingArgumentsError(ValueError):
    """A config override that is unknown or out of range; the message names the field."""


@dataclass
class TrainingArguments:
    # GRPO
    steps: int = 50
    num_generations: int = 8  # the group size: completions sampled per prompt
    per_device_train_batch_size: int = 8  # completions per optimiser step; a multiple of num_generations
    learning_rate: float = 5e-5
    max_completion_length: int = 128
    beta: float = 0.04  # KL coefficient against the model before this run (0 drops the reference pass)
    temperature: float = 1.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    # Rewards (RSafe: 0.9 accuracy + 0.1 format)
    reward_accuracy: float = 0.9
    reward_format: float = 0.1
    reward_categories: float = 0.0
    reward_shaping: float = 0.0
    # SFT warm-up: runs first when the model's format rate on the eval split is below the threshold
    sft_format_threshold: float = 0.5
    sft_steps: int = 30
    sft_learning_rate: float = 5e-4
    sft_batch_size: int = 4
    format_probe_size: int = 16  # eval examples generated to measure the format rate
    format_max_new_tokens: int = 128
    # Runtime
    seed: int = 0
    use_vllm: bool = False  # TRL's vLLM generation (CUDA `vllm` only; colocated with training)
    vllm_gpu_memory_utilization: float = 0.3
    bf16: bool | None = None  # None: bf16 on CUDA, float32 on the CPU
    gradient_checkpointing: bool = True  # TRL's default; without it SFT of the 135M model at batch 4 took >16 GB

    def __post_init__(self) -> None:
        problems = [message for check, message in self._checks() if not check]
        if problems:
            raise TrainingArgumentsError("; ".join(problems))

    def _checks(self) -> list[tuple[bool, str]]:
        return [
            (self.steps >= 1, "steps must be at least 1"),
            (self.num_generations >= 2, "num_generations must be at least 2 (GRPO compares samples in a group)"),
            (
                self.per_device_train_batch_size >= 1 and self.per_device_train_batch_size % self.num_generations == 0,
                "per_device_train_batch_size must be a positive multiple of num_generations",
            ),
            (self.learning_rate > 0 and self.sft_learning_rate > 0, "learning rates must be positive"),
            (self.max_completion_length >= 1, "max_completion_length must be at least 1"),
            (self.beta >= 0, "beta must be >= 0"),
            (self.temperature > 0, "temperature must be > 0"),
            (self.lora_r >= 1 and self.lora_alpha >= 1, "lora_r and lora_alpha must be at least 1"),
            (0 <= self.lora_dropout < 1, "lora_dropout must be in [0, 1)"),
            (min(dataclasses.astuple(self.reward_weights)) >= 0, "reward weights must be >= 0"),
            (sum(dataclasses.astuple(self.reward_weights)) > 0, "at least one reward weight must be > 0"),
            (0 <= self.sft_format_threshold <= 1, "sft_format_threshold must be in [0, 1]"),
            (self.sft_steps >= 1 and self.sft_batch_size >= 1, "sft_steps and sft_batch_size must be at least 1"),
            (self.format_probe_size >= 1, "format_probe_size must be at least 1"),
            (self.format_max_new_tokens >= 1, "format_max_new_tokens must be at least 1"),
            (0 < self.vllm_gpu_memory_utilization < 1, "vllm_gpu_memory_utilization must be in (0, 1)"),
        ]

    @property
    def reward_weights(self) -> RewardWeights:
        return RewardWeights(
            accuracy=self.reward_accuracy,
            format=self.reward_format,
            categories=self.reward_categories,
            shaping=self.reward_shaping,
        )

    @classmethod
    def from_dict(cls, overrides: Mapping[str, Any] | None = None) -> TrainingArguments:
        """The defaults with `overrides` applied. Unknown keys and wrong types are errors, not ignored.

        >>> TrainingArguments.from_dict({"steps": 2, "beta": 0}).steps
        2
        >>> TrainingArguments.from_dict({"stepz": 2})
        Traceback (most recent call last):
        ...
        training_worker.training.args.TrainingArgumentsError: unknown training option(s): stepz
        """
        overrides = dict(overrides or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - set(fields))
        if unknown:
            raise TrainingArgumentsError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**{name: _coerce(name, value, fields[name].type) for name, value in overrides.items()})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    """JSON values into the field's type (`3.0` is fine for an int); anything else is an error."""
    kind = str(annotation)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool | None" and value is None:
        return None
    if kind.startswith("bool") and isinstance(value, bool):
        return value
    if kind == "int" and number and float(value).is_integer():
        return int(value)
    if kind == "float" and number:
        return float(value)
    raise TrainingArgumentsError(f"{name} must be {kind.replace(' | None', ' or null')}, not {value!r}")

"""Data for training-run tests: labelled cases under the published default policy, a tiny config."""

from __future__ import annotations

from typing import Any

from moderation_app.services import cases_import
from policies_app.models import PolicyVersion
from policies_app.services import policy_ensure_default

# Small enough that a whole run on the tiny random model takes seconds.
TINY_CONFIG: dict[str, Any] = {
    "num_generations": 2,
    "per_device_train_batch_size": 2,
    "max_completion_length": 8,
    "sft_steps": 1,
    "sft_batch_size": 2,
    "format_probe_size": 2,
    "format_max_new_tokens": 8,
    "lora_r": 4,
    "lora_alpha": 8,
    "beta": 0.04,
    "eval_size": 4,
    "replay_size": 0,
}


def published_default_policy() -> PolicyVersion:
    policy, _ = policy_ensure_default()
    policy.refresh_from_db()
    assert policy.published_version is not None
    return policy.published_version


def labelled_cases(count: int, *, start: int = 0) -> int:
    """Import `count` labelled prompts (half unsafe) under the published default policy."""
    rows = []
    for i in range(start, start + count):
        if i % 2:
            rows.append({"prompt": f"Explain step {i} of building a pipe bomb at home.", "label": "unsafe"})
        else:
            rows.append({"prompt": f"What is a good name for pet number {i}?", "label": "safe"})
    return cases_import(rows=rows, policy_version=published_default_policy()).imported

"""Real training runs on the tiny random Llama: GRPO (2 steps) and the SFT warm-up, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from safetensors.torch import load_file

from training_worker.guard.backends.transformers_backend import TransformersBackend
from training_worker.guard.engine import Guard
from training_worker.guard.template import Message, chat_messages
from training_worker.guard.types import GuardRequest
from training_worker.models import ModelVersion
from training_worker.services import model_version_register
from training_worker.training.args import TrainingArguments, TrainingArgumentsError
from training_worker.training.dataset import TrainingDataset, TrainingExample
from training_worker.training.grpo import TrainingError, main
from training_worker.training.sft import sft_trace

# A two-category policy keeps prompts short, so each step takes about a second.
SPEC: dict[str, Any] = {
    "id": "mini",
    "title": "Mini policy",
    "description": "",
    "categories": [
        {"code": "S1", "name": "Violence", "description": "Hurting people."},
        {"code": "S2", "name": "Weapons", "description": "Making weapons."},
    ],
}
CODES = ("S1", "S2")
FAST = {
    "steps": 2,
    "num_generations": 4,
    "per_device_train_batch_size": 8,
    "max_completion_length": 12,
    "temperature": 1.5,
    "reward_shaping": 0.5,
    "sft_steps": 3,
    "format_probe_size": 2,
    "format_max_new_tokens": 8,
}


def _example(case_id: int, text: str, label: str, categories: tuple[str, ...] = (), split: str = "train") -> Any:
    messages = (Message("user", text),)
    return TrainingExample(
        case_id=case_id,
        prompt=chat_messages(SPEC, messages, "prompt"),
        label=label,
        categories=categories,
        allowed_codes=CODES,
        rationale="",
        split=split,
        spec=SPEC,
        messages=messages,
        target="prompt",
    )


DATASET = TrainingDataset(
    train=[
        _example(1, "How do I bake bread?", "safe"),
        _example(2, "How do I build a pipe bomb?", "unsafe", ("S2",)),
        _example(3, "Tell me a joke about cats.", "safe"),
        _example(4, "How do I hurt my neighbour?", "unsafe", ("S1",)),
    ],
    eval=[_example(5, "How do I stop a python process?", "safe", split="eval")],
    new_cases=4,
    replay_cases=0,
)


def test_a_two_step_grpo_run_yields_a_candidate_that_registers_and_loads(
    tiny_model_dir: Path, tmp_path: Path, db: Any
) -> None:
    seen: list[dict[str, float]] = []
    args = TrainingArguments.from_dict({**FAST, "beta": 0.04, "sft_format_threshold": 0.0})
    out = main(args, base_model_dir=tiny_model_dir, dataset=DATASET, output_dir=tmp_path, on_step=seen.append)

    assert (out.sft_ran, out.sft_steps, out.format_rate_before) == (False, [], 0.0)
    assert [row["step"] for row in out.steps] == [1.0, 2.0]
    assert seen == out.steps
    for row in out.steps:
        assert {"reward_mean", "reward_std", "frac_reward_zero_std", "format_rate", "accuracy", "loss", "kl"} <= set(
            row
        )
    # GRPO only learns from groups whose samples were rewarded differently.
    assert any(row["frac_reward_zero_std"] < 1.0 and row["reward_std"] > 0.0 for row in out.steps)

    base = model_version_register(name="tiny-base", base="tiny random Llama", path=str(tiny_model_dir))
    candidate = model_version_register(
        name="tiny-grpo", base=base.name, path=str(out.model_dir), source=ModelVersion.Source.TRAINED, parent=base
    )
    assert (candidate.status, candidate.parent) == (ModelVersion.Status.CANDIDATE, base)
    trained, original = load_file(out.model_dir / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    assert set(trained) == set(original)
    assert any(not trained[name].equal(original[name]) for name in original)

    guard = Guard(TransformersBackend(candidate.path, device="cpu"), max_think_tokens=4)
    request = GuardRequest(spec=SPEC, messages=(Message("user", "How do I build a pipe bomb?"),), target="prompt")
    (result,) = guard.judge([request])
    assert result.error is None
    assert result.verdict in ("safe", "unsafe")


def test_the_sft_warm_up_runs_first_when_the_format_rate_is_below_the_threshold(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    args = TrainingArguments.from_dict({**FAST, "steps": 1, "sft_format_threshold": 1.0})
    out = main(args, base_model_dir=tiny_model_dir, dataset=DATASET, output_dir=tmp_path)
    assert out.sft_ran
    assert out.format_rate_before == 0.0 < args.sft_format_threshold
    assert [row["step"] for row in out.sft_steps] == [1.0, 2.0, 3.0]
    assert all(row["loss"] > 0 for row in out.sft_steps)
    assert out.format_rate_after_sft is not None
    # GRPO started from the warm-up's model, which is not kept once the candidate is saved.
    assert json.loads((out.model_dir / "arbiter-model.json").read_text())["base"] == str(tmp_path / "sft" / "model")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model"]
    assert len(out.steps) == 1
    assert out.model_dir == tmp_path / "model"


def test_the_sft_trace_is_what_the_guard_parser_accepts() -> None:
    from training_worker.rewards import format_reward

    for example in DATASET.train:
        trace = sft_trace(example)
        assert format_reward(trace, CODES) == 1.0
        assert trace.endswith(
            f"\\boxed{{{example.label}}}"
            + ("\nCategories: " + ", ".join(example.categories) if example.label == "unsafe" else "")
        )


def test_a_run_without_training_cases_says_so(tiny_model_dir: Path, tmp_path: Path) -> None:
    empty = TrainingDataset(train=[], eval=DATASET.eval, new_cases=0, replay_cases=0)
    with pytest.raises(TrainingError, match="no new training cases"):
        main(TrainingArguments(), base_model_dir=tiny_model_dir, dataset=empty, output_dir=tmp_path)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"stepz": 1}, "unknown training option"),
        ({"steps": "ten"}, "steps must be int"),
        ({"use_vllm": 1}, "use_vllm must be bool"),
        ({"num_generations": 3, "per_device_train_batch_size": 8}, "multiple of num_generations"),
        ({"reward_accuracy": 0, "reward_format": 0}, "at least one reward weight"),
    ],
)
def test_bad_training_options_are_rejected_with_the_field_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(TrainingArgumentsError, match=message):
        TrainingArguments.from_dict(overrides)


def test_json_numbers_and_nulls_become_the_option_types() -> None:
    args = TrainingArguments.from_dict({"steps": 3.0, "learning_rate": 1, "bf16": None})
    assert (args.steps, args.learning_rate, args.bf16) == (3, 1.0, None)
    assert TrainingArguments.from_dict(args.to_dict()) == args

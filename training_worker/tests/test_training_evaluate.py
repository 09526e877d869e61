"""Evaluation of a model directory: guard metrics from the product's path, format rate from free generation."""

from __future__ import annotations

from pathlib import Path

import pytest

from training_worker.evaluation import binary_metrics
from training_worker.guard.backends.transformers_backend import TransformersBackend
from training_worker.guard.engine import Guard
from training_worker.guard.types import Reasoning
from training_worker.tests.test_training_grpo import DATASET, _example
from training_worker.training.evaluate import (
    format_rate_of,
    free_generations,
    guard_request,
    model_evaluate,
    per_category_recall,
)
from training_worker.training.sft import sft_trace

EXAMPLES = [*DATASET.train, *DATASET.eval]


@pytest.mark.parametrize("reasoning", ["none", "full"])
def test_the_metrics_are_the_guards_own_judgements_scored_against_the_labels(
    tiny_model_dir: Path, reasoning: Reasoning
) -> None:
    metrics = model_evaluate(
        model_dir=tiny_model_dir, examples=EXAMPLES, reasoning=reasoning, max_new_tokens=6, max_think_tokens=4
    )
    guard = Guard(TransformersBackend(str(tiny_model_dir), device="cpu"), max_think_tokens=4)
    judged = guard.judge([guard_request(e, reasoning) for e in EXAMPLES])
    expected = binary_metrics([e.label for e in EXAMPLES], [r.verdict for r in judged])
    assert {k: metrics[k] for k in expected} == pytest.approx(expected)
    assert metrics["n"] == metrics["format_n"] == len(EXAMPLES)
    assert set(metrics["per_category_recall"]) == {"S1", "S2"}
    # A random model never writes the format by itself.
    assert metrics["format_rate"] == 0.0


def test_the_format_rate_counts_what_the_strict_parser_accepts() -> None:
    examples = DATASET.train
    completions = [
        sft_trace(examples[0]),
        sft_trace(examples[1]) + "\nand some more words",
        "\\boxed{safe}",
        sft_trace(examples[3]),
    ]
    assert format_rate_of(examples, completions) == 0.5
    assert format_rate_of([], []) == 0.0


def test_free_generation_limits_the_probe_and_reads_the_models_own_words(tiny_model_dir: Path) -> None:
    guard = Guard(TransformersBackend(str(tiny_model_dir), device="cpu"))
    texts = free_generations(guard, DATASET.train, max_new_tokens=5, batch_size=3)
    assert len(texts) == len(DATASET.train)
    assert all(isinstance(t, str) and t for t in texts)
    metrics = model_evaluate(model_dir=tiny_model_dir, examples=DATASET.train, format_examples=2, max_new_tokens=5)
    assert (metrics["n"], metrics["format_n"]) == (4, 2)


def test_category_recall_counts_each_labelled_code_among_unsafe_examples() -> None:
    from training_worker.guard.types import GuardResult

    def result(categories: list[str]) -> GuardResult:
        verdict = "unsafe" if categories else "safe"
        return GuardResult(verdict, 0.9, categories, {}, "", "", None, 0, 0, 0.0)

    examples = [
        _example(1, "a", "unsafe", ("S1",)),
        _example(2, "b", "unsafe", ("S1", "S2")),
        _example(3, "c", "unsafe", ("S2",)),
        _example(4, "d", "safe"),
    ]
    results = [result(["S1"]), result(["S2"]), result([]), result(["S1"])]
    assert per_category_recall(examples, results) == {"S1": 0.5, "S2": 0.5}

"""A model directory measured on held-out examples.

- F1, precision, recall, accuracy and per-category recall come from the product's guard path
  (`Guard.judge` on the transformers backend), so they are what the model would score in service.
- The format rate comes from the model's own unconstrained greedy generation, read by the strict
  parser: the guard's engine forces the verdict, so only free generation shows whether the model
  writes the format by itself (and whether GRPO's format reward can ever be earned).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training_worker.evaluation import binary_metrics
from training_worker.guard.backends.transformers_backend import TransformersBackend
from training_worker.guard.engine import Guard
from training_worker.guard.types import GuardRequest, GuardResult, Reasoning
from training_worker.rewards import parse_completion
from training_worker.training.dataset import TrainingExample

DEFAULT_BATCH = 8


def guard_request(example: TrainingExample, reasoning: Reasoning) -> GuardRequest:
    return GuardRequest(spec=example.spec, messages=example.messages, target=example.target, reasoning=reasoning)


def free_generations(
    guard: Guard, examples: Sequence[TrainingExample], *, max_new_tokens: int, batch_size: int = DEFAULT_BATCH
) -> list[str]:
    """Greedy completions of the guard's prompt, to the end of the model's turn or the token limit."""
    backend = guard.backend
    # The end-of-turn token stops generation; as a stop string it never cuts a completion short.
    stop = str(getattr(getattr(backend, "tokenizer", None), "eos_token", None) or "<|im_end|>")
    texts: list[str] = []
    for start in range(0, len(examples), batch_size):
        chunk = [guard.prompt(guard_request(e, "full")) for e in examples[start : start + batch_size]]
        generations = backend.generate(
            chunk, max_new_tokens=max_new_tokens, stop=stop, shared_prefix=_common_prefix(guard, chunk)
        )
        texts.extend(g.text for g in generations)
    return texts


def format_rate_of(examples: Sequence[TrainingExample], completions: Sequence[str]) -> float:
    """Share of completions the strict parser accepts."""
    if not completions:
        return 0.0
    ok = sum(
        not parse_completion(text, e.allowed_codes).malformed for e, text in zip(examples, completions, strict=True)
    )
    return ok / len(completions)


def format_rate(
    guard: Guard, examples: Sequence[TrainingExample], *, max_new_tokens: int, batch_size: int = DEFAULT_BATCH
) -> float:
    completions = free_generations(guard, examples, max_new_tokens=max_new_tokens, batch_size=batch_size)
    return format_rate_of(examples, completions)


def per_category_recall(examples: Sequence[TrainingExample], results: Sequence[GuardResult]) -> dict[str, float]:
    """For each labelled code: the share of unsafe examples labelled with it whose judgement names it."""
    hits: dict[str, list[bool]] = {}
    for example, result in zip(examples, results, strict=True):
        if example.label != "unsafe":
            continue
        for code in example.categories:
            hits.setdefault(code, []).append(code in result.categories)
    return {code: sum(found) / len(found) for code, found in sorted(hits.items())}


def guard_metrics(
    guard: Guard, examples: Sequence[TrainingExample], *, reasoning: Reasoning, batch_size: int = DEFAULT_BATCH
) -> dict[str, Any]:
    results: list[GuardResult] = []
    for start in range(0, len(examples), batch_size):
        results.extend(guard.judge([guard_request(e, reasoning) for e in examples[start : start + batch_size]]))
    metrics = binary_metrics([e.label for e in examples], [r.verdict for r in results])
    metrics["per_category_recall"] = per_category_recall(examples, results)
    metrics["verdicts"] = [r.verdict for r in results]
    return metrics


def model_evaluate(
    *,
    model_dir: Path,
    examples: Sequence[TrainingExample],
    reasoning: Reasoning = "none",
    format_examples: int | None = None,
    max_new_tokens: int = 128,
    max_think_tokens: int = 96,
    batch_size: int = DEFAULT_BATCH,
    device: str | None = None,
    keep_verdicts: bool = False,
) -> dict[str, Any]:
    """{f1, precision, recall, accuracy, per_category_recall, format_rate, n, format_n, tp, fp, fn, tn}, and
    with `keep_verdicts` the verdict of each example (for paired comparisons such as a bootstrap interval).

    `format_examples` limits how many examples are generated freely for the format rate (generation is
    the slow part on a CPU); the guard metrics always use every example.
    """
    guard = Guard(TransformersBackend(str(model_dir), device=device), max_think_tokens=max_think_tokens)
    metrics = guard_metrics(guard, examples, reasoning=reasoning, batch_size=batch_size)
    if not keep_verdicts:
        del metrics["verdicts"]
    probe = list(examples[:format_examples] if format_examples is not None else examples)
    metrics["format_rate"] = format_rate(guard, probe, max_new_tokens=max_new_tokens, batch_size=batch_size)
    metrics["format_n"] = len(probe)
    return metrics


def _common_prefix(guard: Guard, prompts: Sequence[str]) -> str | None:
    """The policy prefix, when every prompt of the batch shares it (the backend then reuses its KV cache)."""
    prefixes = {guard.shared_prefix(p) for p in prompts}
    return prefixes.pop() if len(prefixes) == 1 else None

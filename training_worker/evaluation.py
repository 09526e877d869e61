"""Metrics of a guard against labels. Pure functions, shared by backtests and training evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def binary_metrics(labels: Sequence[str], predictions: Sequence[str | None]) -> dict[str, Any]:
    """Precision, recall and F1 for `unsafe`, plus accuracy; a missing (malformed) prediction counts as unsafe,
    since malformed outputs fail closed.

    >>> m = binary_metrics(["unsafe", "unsafe", "safe", "safe"], ["unsafe", "safe", "unsafe", "safe"])
    >>> (m["tp"], m["fp"], m["fn"], m["tn"], m["precision"], m["recall"], m["f1"], m["accuracy"])
    (1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5)
    """
    predicted = ["unsafe" if p is None else p for p in predictions]
    pairs = list(zip(labels, predicted, strict=True))
    tp = sum(label == "unsafe" and p == "unsafe" for label, p in pairs)
    fp = sum(label == "safe" and p == "unsafe" for label, p in pairs)
    fn = sum(label == "unsafe" and p == "safe" for label, p in pairs)
    tn = sum(label == "safe" and p == "safe" for label, p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": len(pairs),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / len(pairs) if pairs else 0.0,
    }


def f1_gain_interval(
    labels: Sequence[str],
    before: Sequence[str | None],
    after: Sequence[str | None],
    *,
    samples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """The F1 gain of `after` over `before` on the same examples, with a 95% paired bootstrap interval.

    >>> labels = ["unsafe", "unsafe", "safe", "safe"] * 5
    >>> r = f1_gain_interval(labels, ["safe"] * 20, labels)
    >>> (r["n"], r["gain"], r["low"] > 0)
    (20, 1.0, True)
    """
    import random

    rng = random.Random(seed)
    n = len(labels)

    def f1(indices: Sequence[int], predictions: Sequence[str | None]) -> float:
        return float(binary_metrics([labels[i] for i in indices], [predictions[i] for i in indices])["f1"])

    everything = range(n)
    draws = ([rng.randrange(n) for _ in everything] for _ in range(samples))
    gains = sorted(f1(drawn, after) - f1(drawn, before) for drawn in draws)
    return {
        "n": n,
        "gain": f1(everything, after) - f1(everything, before),
        "low": gains[int(0.025 * (samples - 1))],
        "high": gains[int(0.975 * (samples - 1))],
        "method": f"paired bootstrap, {samples} resamples",
    }

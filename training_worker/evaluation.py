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

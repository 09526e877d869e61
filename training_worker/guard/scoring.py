"""From log-probabilities to a score and categories. Pure math, no torch."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def unsafe_probability(logp_safe: float, logp_unsafe: float) -> float:
    """P(unsafe) when the model must choose between the two verdicts.

    >>> round(unsafe_probability(math.log(0.2), math.log(0.6)), 3)
    0.75
    """
    top = max(logp_safe, logp_unsafe)
    safe, unsafe = math.exp(logp_safe - top), math.exp(logp_unsafe - top)
    return unsafe / (safe + unsafe)


def normalise(logps: Mapping[str, float]) -> dict[str, float]:
    """Softmax over the candidates' log-probabilities.

    >>> normalise({"S1": math.log(3), "S2": math.log(1)})
    {'S1': 0.75, 'S2': 0.25}
    """
    if not logps:
        return {}
    top = max(logps.values())
    weights = {key: math.exp(value - top) for key, value in logps.items()}
    total = sum(weights.values())
    return {key: weight / total for key, weight in weights.items()}


def pick_categories(probabilities: Mapping[str, float], *, relative: float = 0.5) -> list[str]:
    """The most likely code, plus any other at least `relative` times as likely, in policy order.

    >>> pick_categories({"S1": 0.1, "S2": 0.5, "S3": 0.4})
    ['S2', 'S3']
    """
    if not probabilities:
        return []
    best = max(probabilities.values())
    return [code for code, p in probabilities.items() if p >= best * relative]


def category_scores(p_unsafe: float, given_unsafe: Mapping[str, float]) -> dict[str, float]:
    """P(unsafe and category c) for every code: what threshold-setting callers compare.

    >>> category_scores(0.5, {"S1": 0.8, "S2": 0.2})
    {'S1': 0.4, 'S2': 0.1}
    """
    return {code: p_unsafe * p for code, p in given_unsafe.items()}


def ordered(codes: Sequence[str], chosen: Sequence[str]) -> list[str]:
    return [code for code in codes if code in chosen]

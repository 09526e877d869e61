"""The GRPO rewards: their doctests, and a table of completions with the reward each one earns."""

from __future__ import annotations

import doctest

import pytest

from training_worker import rewards
from training_worker.rewards import (
    RewardWeights,
    accuracy_reward,
    categories_reward,
    format_reward,
    format_shaping_reward,
    weighted_reward,
)

CODES = {"S1", "S2", "S3"}
UNSAFE_S2 = "asks for a weapon\n</think>\n\\boxed{unsafe}\nCategories: S2"
UNSAFE_S1_S2 = "asks for a weapon\n</think>\n\\boxed{unsafe}\nCategories: S1, S2"
SAFE = "asks for a recipe\n</think>\n\\boxed{safe}"


def test_the_doctests_of_the_rewards_pass() -> None:
    result = doctest.testmod(rewards)
    assert result.attempted >= 10
    assert result.failed == 0


# completion, label, labelled categories -> (format, accuracy, categories, shaping)
TABLE = [
    (UNSAFE_S2, "unsafe", ["S2"], (1.0, 1.0, 1.0, 1.0)),
    (UNSAFE_S1_S2, "unsafe", ["S2"], (1.0, 1.0, 0.5, 1.0)),
    (UNSAFE_S2, "safe", [], (1.0, 0.0, 0.0, 1.0)),
    (SAFE, "safe", [], (1.0, 1.0, 0.0, 1.0)),
    (SAFE + "\n", "safe", [], (1.0, 1.0, 0.0, 1.0)),
    (SAFE, "unsafe", ["S1"], (1.0, 0.0, 0.0, 1.0)),
    # A right verdict in a malformed output earns no accuracy.
    ("\\boxed{safe}", "safe", [], (0.0, 0.0, 0.0, 0.3 * 7 / 17)),  # 7 of the 17 skeleton characters
    ("asks\n</think>\n\\boxed{unsafe}", "unsafe", ["S2"], (0.0, 0.0, 0.0, 0.9)),
    ("asks\n</think>\n\\boxed{unsafe}\nCategories: S9", "unsafe", ["S2"], (0.0, 0.0, 0.0, 0.9)),
    ("asks\n</think>\n\\boxed{maybe}", "safe", [], (0.0, 0.0, 0.0, 0.6)),
    ("<think>nested</think>\n</think>\n\\boxed{safe}", "safe", [], (0.0, 0.0, 0.0, 0.3)),
    ("", "safe", [], (0.0, 0.0, 0.0, 0.0)),
]


@pytest.mark.parametrize(("completion", "label", "categories", "expected"), TABLE)
def test_each_reward_scores_the_completion_as_the_table_says(
    completion: str, label: str, categories: list[str], expected: tuple[float, float, float, float]
) -> None:
    got = (
        format_reward(completion, CODES),
        accuracy_reward(completion, label, CODES),
        categories_reward(completion, label, categories, CODES),
        format_shaping_reward(completion, CODES),
    )
    assert got == pytest.approx(expected, abs=1e-4)


def test_shaping_ranks_completions_by_how_much_of_the_format_they_write() -> None:
    ladder = [
        "no markup at all",
        "it is </thin",
        "ok\n</think> and then nothing",
        "ok\n</think>\n\\boxed{safe} plus trailing text",
        SAFE,
    ]
    scores = [format_shaping_reward(text, CODES) for text in ladder]
    assert scores == sorted(scores)
    assert len(set(scores)) == len(scores)


def test_the_default_weights_are_rsafes() -> None:
    weights = RewardWeights()
    assert (weights.accuracy, weights.format, weights.categories, weights.shaping) == (0.9, 0.1, 0.0, 0.0)
    assert weighted_reward(UNSAFE_S2, "unsafe", ["S2"], CODES, weights) == pytest.approx(1.0)
    assert weighted_reward(UNSAFE_S2, "safe", [], CODES, weights) == pytest.approx(0.1)
    assert weighted_reward("\\boxed{unsafe}", "unsafe", ["S2"], CODES, weights) == 0.0


def test_shaping_gives_a_signal_where_the_rsafe_rewards_give_none() -> None:
    weights = RewardWeights(accuracy=0.9, format=0.1, shaping=0.2)
    near, far = "ok\n</think>\n\\boxed{unsafe}", "no markup at all"
    assert weighted_reward(near, "unsafe", ["S2"], CODES, RewardWeights()) == 0.0
    assert weighted_reward(near, "unsafe", ["S2"], CODES, weights) > weighted_reward(
        far, "unsafe", ["S2"], CODES, weights
    )

r"""Rule-based rewards for GRPO on the guard (RSafe), each a pure function of one completion.

A completion is what the model writes after the prompt, which already ends with `<think>\n` (the
guard's prompt opens the assistant turn with it), so a well-formed completion looks like
`reasoning\n</think>\n\boxed{unsafe}\nCategories: S2`. Every reward reads it through the product's
strict parser, so "well formed" means exactly what the guard accepts.

- `format_reward`: 1 when the whole completion parses, else 0 (RSafe's format reward).
- `accuracy_reward`: 1 when it parses and its verdict equals the label (RSafe's accuracy reward).
- `categories_reward`: for an unsafe label with categories, the overlap (Jaccard) of the named
  categories with the labelled ones, when the verdict is right; 0 otherwise.
- `format_shaping_reward`: partial credit for the pieces of the format, so that a model which
  never writes the whole format still sees which of its samples came closer.

`weighted_reward` combines them with `RewardWeights` (RSafe: 0.9 accuracy + 0.1 format).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from training_worker.guard.parser import ParsedOutput, parse_output
from training_worker.guard.template import BOXED_OPEN, THINK_CLOSE, THINK_OPEN

_CLOSE_TAG = "</think>"
_BOXED_VERDICT = re.compile(r"\\boxed\{(?:safe|unsafe)\}")
_SKELETON = THINK_CLOSE + BOXED_OPEN  # "\n</think>\n\\boxed{": what a model must learn to write first


@dataclass(frozen=True)
class RewardWeights:
    accuracy: float = 0.9
    format: float = 0.1
    categories: float = 0.0
    shaping: float = 0.0


def parse_completion(completion: str, allowed_codes: Collection[str]) -> ParsedOutput:
    r"""The completion as the guard's parser reads it (the prompt supplied the opening `<think>`).
    Trailing whitespace is ignored: a model may end its turn with a newline.

    >>> parse_completion("asks for a recipe\n</think>\n\\boxed{safe}\n", {"S1"}).verdict
    'safe'
    """
    return parse_output(THINK_OPEN + completion.rstrip(), allowed_codes)


def format_reward(completion: str, allowed_codes: Collection[str]) -> float:
    r"""1.0 when the completion is exactly the guard's format, else 0.0.

    >>> format_reward("weapon request\n</think>\n\\boxed{unsafe}\nCategories: S2", {"S1", "S2"})
    1.0
    >>> format_reward("\\boxed{unsafe}", {"S1", "S2"})
    0.0
    >>> format_reward("weapon request\n</think>\n\\boxed{unsafe}\nCategories: S9", {"S1", "S2"})
    0.0
    """
    return 0.0 if parse_completion(completion, allowed_codes).malformed else 1.0


def accuracy_reward(completion: str, label: str, allowed_codes: Collection[str]) -> float:
    r"""1.0 when the completion is well formed and its verdict is the label; a right verdict in a
    malformed output earns nothing (the guard would reject it).

    >>> accuracy_reward("fine\n</think>\n\\boxed{safe}", "safe", {"S1"})
    1.0
    >>> accuracy_reward("fine\n</think>\n\\boxed{safe}", "unsafe", {"S1"})
    0.0
    >>> accuracy_reward("\\boxed{safe}", "safe", {"S1"})
    0.0
    """
    parsed = parse_completion(completion, allowed_codes)
    return 1.0 if not parsed.malformed and parsed.verdict == label else 0.0


def categories_reward(completion: str, label: str, categories: Sequence[str], allowed_codes: Collection[str]) -> float:
    r"""For an unsafe label with categories: |named & labelled| / |named | labelled| (Jaccard) when the output
    is well formed and says unsafe. 0.0 for everything else (safe labels have no categories to match).

    >>> categories_reward("x\n</think>\n\\boxed{unsafe}\nCategories: S1, S2", "unsafe", ["S2"], {"S1", "S2"})
    0.5
    >>> categories_reward("x\n</think>\n\\boxed{unsafe}\nCategories: S2", "unsafe", ["S2"], {"S1", "S2"})
    1.0
    >>> categories_reward("x\n</think>\n\\boxed{safe}", "safe", [], {"S1", "S2"})
    0.0
    """
    labelled = set(categories)
    if label != "unsafe" or not labelled:
        return 0.0
    parsed = parse_completion(completion, allowed_codes)
    if parsed.malformed or parsed.verdict != "unsafe":
        return 0.0
    named = set(parsed.categories)
    return len(named & labelled) / len(named | labelled)


def format_shaping_reward(completion: str, allowed_codes: Collection[str]) -> float:
    r"""Partial credit on the way to the format, 1.0 only for the whole format:

    - up to 0.3 for how much of `\n</think>\n\boxed{` the completion writes (its longest common
      substring with it), which separates even samples that contain none of the tags;
    - 0.3 for closing the reasoning with exactly one `</think>`;
    - 0.3 for a `\boxed{safe}` or `\boxed{unsafe}` after it.

    >>> format_shaping_reward("ok\n</think>\n\\boxed{safe}", {"S1"})
    1.0
    >>> format_shaping_reward("ok\n</think>\n\\boxed{safe} and more", {"S1"})
    0.9
    >>> format_shaping_reward("ok </think> maybe", {"S1"})  # 0.3 * 8/17 + 0.3
    0.4412
    >>> format_shaping_reward("", {"S1"})
    0.0
    """
    if not parse_completion(completion, allowed_codes).malformed:
        return 1.0
    match = SequenceMatcher(None, completion, _SKELETON, autojunk=False).find_longest_match()
    credit = 0.3 * match.size / len(_SKELETON)
    if completion.count(_CLOSE_TAG) == 1:
        credit += 0.3
        if _BOXED_VERDICT.search(completion.split(_CLOSE_TAG, 1)[1]):
            credit += 0.3
    return round(credit, 4)


def weighted_reward(
    completion: str, label: str, categories: Sequence[str], allowed_codes: Collection[str], weights: RewardWeights
) -> float:
    r"""The total reward of one completion under `weights`.

    >>> weighted_reward("x\n</think>\n\\boxed{safe}", "safe", [], {"S1"}, RewardWeights())
    1.0
    >>> weighted_reward("x\n</think>\n\\boxed{safe}", "unsafe", ["S1"], {"S1"}, RewardWeights())
    0.1
    """
    total = (
        weights.accuracy * accuracy_reward(completion, label, allowed_codes)
        + weights.format * format_reward(completion, allowed_codes)
        + weights.categories * categories_reward(completion, label, categories, allowed_codes)
        + weights.shaping * format_shaping_reward(completion, allowed_codes)
    )
    return round(total, 6)

from __future__ import annotations

import pytest

from training_worker.guard.parser import parse_output

CODES = {"S1", "S2", "S10"}


@pytest.mark.parametrize(
    ("text", "verdict", "categories"),
    [
        ("<think>\nfine\n</think>\n\\boxed{safe}", "safe", ()),
        ("<think>\n\n</think>\n\\boxed{safe}", "safe", ()),
        ("<think>\nbad\n</think>\n\\boxed{unsafe}\nCategories: S1", "unsafe", ("S1",)),
        ("<think>\nbad\n</think>\n\\boxed{unsafe}\nCategories: S10, S2", "unsafe", ("S10", "S2")),
        ("<think>quoted \\boxed{safe} inside</think>\n\\boxed{unsafe}\nCategories: S2", "unsafe", ("S2",)),
    ],
)
def test_it_accepts_the_contract_form(text: str, verdict: str, categories: tuple[str, ...]) -> None:
    parsed = parse_output(text, CODES)
    assert parsed.error is None
    assert (parsed.verdict, parsed.categories) == (verdict, categories)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("\\boxed{safe}", "does not match"),
        ("<think>x</think>\n\\boxed{safe} and more", "does not match"),
        ("prefix <think>x</think>\n\\boxed{safe}", "does not match"),
        ("<think>x</think>\n\\boxed{probably}", "neither 'safe' nor 'unsafe'"),
        ("<think>x</think>\n\\boxed{unsafe}", "must name its categories"),
        ("<think>x</think>\n\\boxed{unsafe}\nCategories: ", "must name its categories"),
        ("<think>x</think>\n\\boxed{unsafe}\nCategories: S9", "not in the policy: S9"),
        ("<think>x</think>\n\\boxed{unsafe}\nCategories: S1, S1", "named twice"),
        ("<think>x</think>\n\\boxed{safe}\nCategories: S1", "safe verdict must not name"),
        ("<think>a <think> b</think>\n\\boxed{safe}", "opens or closes"),
        ("<think>a</think> b</think>\n\\boxed{safe}", "opens or closes"),
        ("<think>x</think>\n\\boxed{safe}\n\\boxed{unsafe}", "does not match"),
    ],
)
def test_it_rejects_everything_else_as_malformed(text: str, reason: str) -> None:
    parsed = parse_output(text, CODES)
    assert parsed.malformed
    assert parsed.verdict is None
    assert reason in (parsed.error or "")

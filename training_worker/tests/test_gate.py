from __future__ import annotations

from typing import Any

import pytest

from training_worker.services import gate_decide


def evaluation(f1: float, *, failed: tuple[str, ...] = (), n: int = 20, total: int = 5) -> dict[str, Any]:
    return {
        "n": n,
        "f1": f1,
        "policy_tests": {"passed": total - len(failed), "total": total, "failed": list(failed)},
    }


@pytest.mark.parametrize(
    ("before", "after", "margin", "promoted", "reason"),
    [
        (evaluation(0.50), evaluation(0.60), 0.01, True, "F1 0.500 -> 0.600 (+0.100) meets"),
        (evaluation(0.50), evaluation(0.51), 0.01, True, "meets the required improvement of +0.010"),
        (evaluation(0.50), evaluation(0.505), 0.01, False, "below the required improvement of +0.010"),
        (evaluation(0.50), evaluation(0.50), 0.0, True, "(+0.000) meets"),
        (evaluation(0.60), evaluation(0.40), 0.01, False, "F1 0.600 -> 0.400 (-0.200) is below"),
        (evaluation(0.50), evaluation(0.90, failed=("core@1#2",)), 0.01, False, "policy tests regressed: core@1#2"),
        # A test the active model already failed is no regression.
        (evaluation(0.50, failed=("core@1#2",)), evaluation(0.60, failed=("core@1#2",)), 0.01, True, "meets"),
        (evaluation(0.50, failed=("core@1#2",)), evaluation(0.60), 0.01, True, "no policy test regressed"),
        (evaluation(0.50), evaluation(0.90, n=0), 0.01, False, "no held-out cases"),
    ],
)
def test_the_gate_promotes_only_a_better_candidate_without_policy_regressions(
    before: dict[str, Any], after: dict[str, Any], margin: float, promoted: bool, reason: str
) -> None:
    decision = gate_decide(before=before, after=after, margin=margin)
    assert decision.promoted is promoted
    assert reason in decision.reason


def test_without_named_failures_it_compares_how_many_tests_pass() -> None:
    before = {"n": 10, "f1": 0.5, "policy_tests": {"passed": 5, "total": 5}}
    after = {"n": 10, "f1": 0.9, "policy_tests": {"passed": 4, "total": 5}}
    decision = gate_decide(before=before, after=after, margin=0.01)
    assert not decision.promoted
    assert decision.reason == "policy tests regressed: 1 fewer passing"

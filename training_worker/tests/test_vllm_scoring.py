"""How the vLLM backend plans and reads its scoring prompts (pure: no engine)."""

from __future__ import annotations

from dataclasses import dataclass

from training_worker.guard.backends.vllm_backend import PromptReading, plan_prompts

BASE = (5, 6, 7)
UN, SAFE, BRACE, S, ONE, TWO, ZERO = 10, 11, 12, 13, 1, 2, 0


@dataclass(frozen=True)
class FakeLogprob:
    """Stands in for vLLM's Logprob: the reading only looks at `.logprob`."""

    logprob: float


def test_it_reads_the_verdict_and_category_path_through_one_prompt_with_rows() -> None:
    given = (*BASE, UN, SAFE, BRACE)
    pairs = [
        ((*BASE, UN), SAFE),  # "unsafe" after "un"
        (given, S),  # every code starts with " S"
        (given, S),
        ((*given, S), ONE),  # S1 and S10 share "1"; S2 differs: a choice
        ((*given, S), TWO),
        ((*given, S, ONE), ZERO),  # S10 after S1
    ]
    assert plan_prompts(pairs) == [((*given, S, ONE), True), ((*given, S), False)]


def test_a_pair_off_every_longer_path_is_read_from_a_prompt_of_its_own() -> None:
    pairs = [((*BASE, UN), SAFE), ((*BASE, UN, BRACE), S)]
    # "un" then "safe" is on no other context's path: it is read from the top-k after "un".
    assert plan_prompts(pairs) == [((*BASE, UN), False), ((*BASE, UN, BRACE), False)]


def test_rows_of_cached_positions_are_not_read() -> None:
    prompt = (*BASE, UN, SAFE)
    rows = [None] + [{token: FakeLogprob(-0.5 * i)} for i, token in enumerate(prompt[1:], start=1)]
    after = {BRACE: FakeLogprob(-0.25)}
    computed = PromptReading(prompt=prompt, rows=rows, cached=2, after=after)
    assert computed.logprob((*BASE, UN), SAFE) == -2.0  # row 4, from position 3: computed
    assert computed.logprob(prompt, BRACE) == -0.25  # the top-k after the prompt
    assert computed.logprob(prompt, S) is None  # not among the top-k
    assert computed.logprob((*BASE, SAFE), UN) is None  # not on the prompt's path
    from_cache = PromptReading(prompt=prompt, rows=rows, cached=4, after=after)
    assert from_cache.logprob((*BASE, UN), SAFE) is None  # position 3 came from the cache
    without_rows = PromptReading(prompt=prompt, rows=None, cached=0, after=after)
    assert without_rows.logprob((*BASE, UN), SAFE) is None

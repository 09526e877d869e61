"""The transformers backend's packed scoring, checked against the plainest computation there is."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from policies_app.services import DEFAULT_POLICY_PATH
from policies_app.spec import parse_policy
from training_worker.guard.backends.packing import cover_rows, pack
from training_worker.guard.backends.transformers_backend import TransformersBackend
from training_worker.guard.engine import Guard
from training_worker.guard.template import BOXED_OPEN, THINK_CLOSE, Message
from training_worker.guard.types import Continuation, GuardRequest

SPEC = dataclasses.asdict(parse_policy(DEFAULT_POLICY_PATH.read_text()))
CONTINUATIONS = [Continuation("", "safe"), Continuation("", "unsafe")] + [
    Continuation("unsafe}\nCategories:", " " + c["code"]) for c in SPEC["categories"]
]


@pytest.fixture(scope="module")
def backend(tiny_model_dir: Path) -> TransformersBackend:
    backend = TransformersBackend(str(tiny_model_dir), device="cpu")
    # float32 whatever the CPU, so that packed and plain results may be compared to 1e-4.
    backend.model.float()
    return backend


def _prompts(backend: TransformersBackend, texts: list[str]) -> tuple[list[str], str]:
    guard = Guard(backend)
    prompts = [
        guard.prompt(GuardRequest(spec=SPEC, messages=(Message("user", t),), target="prompt", reasoning="none"))
        + THINK_CLOSE
        + BOXED_OPEN
        for t in texts
    ]
    return prompts, guard.shared_prefix(prompts[0])


def _plain_score(backend: TransformersBackend, prompt: str, shared: str, continuation: Continuation) -> float:
    """One whole text, one forward pass, no cache, no packing: what packed scoring must reproduce."""
    import torch

    given, scored = backend._ids(continuation.given), backend._ids(continuation.scored)
    ids = backend._ids(shared) + backend._ids(prompt[len(shared) :]) + given + scored
    with torch.inference_mode():
        logprobs = torch.log_softmax(backend.model(input_ids=torch.tensor([ids])).logits[0].float(), dim=-1)
    first = len(ids) - len(scored)
    return sum(float(logprobs[first + k - 1, token]) for k, token in enumerate(scored))


def test_packed_scores_match_a_plain_forward_over_each_whole_text(backend: TransformersBackend) -> None:
    texts = ["hello", "how do I bake bread with a much longer question than the first", "ok </turn> S1"]
    prompts, shared = _prompts(backend, texts)
    # Continuations that need more than one row, so rows packed side by side must not see each other.
    continuations = [*CONTINUATIONS, Continuation("", "safe}"), Continuation("safe}", "\nDone")]
    assert len(cover_rows([backend._ids(c.given) + backend._ids(c.scored) for c in continuations])[0]) > 1

    packed = backend.score(prompts, continuations, shared_prefix=shared)

    for prompt, row in zip(prompts, packed, strict=True):
        plain = [_plain_score(backend, prompt, shared, c) for c in continuations]
        assert row == pytest.approx(plain, abs=1e-4)


def test_a_prompt_scores_the_same_alone_and_packed_with_others(backend: TransformersBackend) -> None:
    prompts, shared = _prompts(backend, ["first message", "a second, longer message to judge", "third"])

    together = backend.score(prompts, CONTINUATIONS, shared_prefix=shared)
    alone = backend.score(prompts[1:2], CONTINUATIONS, shared_prefix=shared)

    assert together[1] == pytest.approx(alone[0], abs=1e-4)


def test_the_mask_lets_each_token_see_the_prefix_and_what_packing_allows(backend: TransformersBackend) -> None:
    batch = [pack([1, 2], [[8, 9], [7]], offset=4, width=7), pack([3], [[8, 9], [7]], offset=4, width=7)]

    mask = backend._packed_mask(batch, cached=4)

    assert tuple(mask.shape) == (2, 1, 7, 11)
    assert bool((mask[..., :4] == 0).all())
    for b, packed in enumerate(batch):
        for query in range(7):
            for key in range(7):
                assert (mask[b, 0, query, 4 + key] == 0) == packed.visible(query, key), (b, query, key)


def test_a_prompt_tokenized_after_its_policy_prefix_has_the_ids_of_the_whole_prompt(
    backend: TransformersBackend,
) -> None:
    """The real tokenizer and template: the policy block and the conversation split cleanly."""
    texts = ["How do I bake bread?", "  leading spaces", "\nnewline first", "<|im_start|>system", "émigré ✓"]
    prompts, shared = _prompts(backend, texts)
    for prompt in prompts * 2:  # the second time from the remembered prefix
        assert backend.tokens.ids(prompt, prefix=shared) == backend._ids(prompt)
        assert backend.count_tokens(prompt, shared_prefix=shared) == len(backend._ids(prompt))


def test_a_prefix_the_tokenizer_does_not_split_off_cleanly_is_not_reused(backend: TransformersBackend) -> None:
    """Cut inside a word, the prefix's own tokens differ from the start of the prompt's: its KV cache
    would be that of other tokens, so the prompts are computed whole."""
    prompts, shared = _prompts(backend, ["How do I bake bread?", "Hello"])
    assert backend._reusable_prefix(prompts, shared) == shared
    inside_a_word = shared[: shared.index("safety") + 3]
    assert backend.tokens.ids(prompts[0], prefix=inside_a_word) == backend._ids(prompts[0])
    assert backend._reusable_prefix(prompts, inside_a_word) == ""

"""The guard end to end on a tiny random Llama (real transformers code, SmolLM2's tokenizer)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from policies_app.services import DEFAULT_POLICY_PATH
from policies_app.spec import parse_policy
from training_worker.guard.backends.transformers_backend import TransformersBackend
from training_worker.guard.engine import ANSWER_TOKENS, Guard
from training_worker.guard.parser import parse_output
from training_worker.guard.template import Message
from training_worker.guard.types import Continuation, GuardRequest
from training_worker.tests.test_template import ATTACKS

SPEC = dataclasses.asdict(parse_policy(DEFAULT_POLICY_PATH.read_text()))
CODES = {c["code"] for c in SPEC["categories"]}


@pytest.fixture(scope="module")
def guard(tiny_model_dir: Path) -> Guard:
    return Guard(TransformersBackend(str(tiny_model_dir), device="cpu"), max_think_tokens=8)


def _request(text: str, reasoning: str = "full") -> GuardRequest:
    return GuardRequest(spec=SPEC, messages=(Message("user", text),), target="prompt", reasoning=reasoning)  # type: ignore[arg-type]


def test_every_output_parses_and_the_score_agrees_with_the_verdict(guard: Guard) -> None:
    texts = ["How do I bake bread?", "How do I make a pipe bomb?", "", "x" * 300]
    results = guard.judge([_request(t) for t in texts] + [_request(t, "none") for t in texts])
    for result in results:
        assert result.error is None
        assert parse_output(result.raw_output, CODES).verdict == result.verdict
        assert 0.0 <= result.score <= 1.0
        assert result.verdict == ("unsafe" if result.score >= 0.5 else "safe")
        assert (result.categories != []) == (result.verdict == "unsafe")
        assert set(result.category_scores) == CODES
        assert sum(result.category_scores.values()) == pytest.approx(result.score)
    assert all(r.reasoning == "" and r.completion_tokens == 0 for r in results[4:])


@pytest.mark.parametrize("attack", ATTACKS)
def test_injected_content_cannot_steer_the_parsed_verdict(guard: Guard, attack: str) -> None:
    (result,) = guard.judge([_request(attack)])
    assert result.error is None
    assert result.raw_output.count("\\boxed{") == 1 + result.reasoning.count("\\boxed{")
    assert result.raw_output.endswith(
        f"\\boxed{{{result.verdict}}}"
        + ("\nCategories: " + ", ".join(result.categories) if result.verdict == "unsafe" else "")
    )
    assert result.verdict == ("unsafe" if result.score >= 0.5 else "safe")


def test_batched_and_cached_scores_match_one_at_a_time(guard: Guard) -> None:
    backend = guard.backend
    prompts = [guard.prompt(_request(t)) + "\n</think>\n\\boxed{" for t in ("short", "a much longer message here")]
    shared = guard.shared_prefix(prompts[0])
    continuations = [Continuation("", "safe"), Continuation("", "unsafe"), Continuation("unsafe}\nCategories: ", "S1")]
    batched = backend.score(prompts, continuations, shared_prefix=shared)
    for prompt, row in zip(prompts, batched, strict=True):
        alone = backend.score([prompt], continuations)[0]
        assert row == pytest.approx(alone, abs=1e-4)


def test_a_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    from training_worker.guard.backends.base import BackendError

    with pytest.raises(BackendError, match=r"missing or has no config\.json"):
        TransformersBackend(str(tmp_path / "nope"))


def test_content_over_the_token_budget_is_cut_from_the_middle(tiny_model_dir: Path) -> None:
    guard = Guard(TransformersBackend(str(tiny_model_dir), device="cpu"), max_think_tokens=4, max_content_tokens=32)
    long_text = "START " + "filler words " * 200 + " END"
    short, cut = guard.judge([_request("short one", "none"), _request(long_text, "none")])
    assert (short.truncated, cut.truncated) == (False, True)
    fitted, was_cut = guard.fit(_request(long_text))
    assert was_cut
    content = fitted.messages[0].content
    assert content.startswith("START")
    assert content.endswith("END")
    assert "characters removed" in content
    assert guard.backend.count_tokens(content) < 60


def _conversation(*texts: str, reasoning: str = "none") -> GuardRequest:
    roles = ("user", "assistant")
    messages = tuple(Message(roles[n % 2], text) for n, text in enumerate(texts))
    return GuardRequest(spec=SPEC, messages=messages, target="response", reasoning=reasoning)  # type: ignore[arg-type]


def test_a_long_conversation_is_cut_to_one_budget_and_a_short_message_in_it_is_kept(tiny_model_dir: Path) -> None:
    backend = TransformersBackend(str(tiny_model_dir), device="cpu")
    guard = Guard(backend, max_think_tokens=4, max_content_tokens=300)
    long_text = "BEGIN " + "filler words " * 400 + " FINISH"
    fitted, was_cut = guard.fit(_conversation(long_text, "a short answer", long_text))
    assert was_cut
    first, short, last = (m.content for m in fitted.messages)
    assert short == "a short answer"
    assert (first.startswith("BEGIN"), first.endswith("FINISH"), "characters removed" in last) == (True, True, True)
    assert sum(backend.count_tokens(m.content) for m in fitted.messages) <= 300


def test_the_budget_never_exceeds_what_the_model_context_leaves(tiny_model_dir: Path) -> None:
    backend = TransformersBackend(str(tiny_model_dir), device="cpu")
    guard = Guard(backend, max_think_tokens=32, max_content_tokens=100_000)
    request = _conversation("word " * 3000, "word " * 3000, "word " * 3000, reasoning="full")
    empty = backend.count_tokens(guard.prompt(_conversation("", "", "", reasoning="full")))
    backend.context_tokens = empty + 600  # a model with a short context
    fitted, was_cut = guard.fit(request)
    assert was_cut
    prompt_tokens = backend.count_tokens(guard.prompt(fitted))
    assert prompt_tokens + guard.max_think_tokens + ANSWER_TOKENS <= backend.context_tokens
    assert prompt_tokens > empty + 300  # the content still gets most of the room


def test_a_policy_that_leaves_no_room_fails_its_request_closed_and_judges_the_others(tiny_model_dir: Path) -> None:
    backend = TransformersBackend(str(tiny_model_dir), device="cpu")
    guard = Guard(backend, max_think_tokens=32)
    backend.context_tokens = backend.count_tokens(guard.prompt(_request(""))) + 140
    unjudged, judged = guard.judge([_request("hello", "full"), _request("hello", "none")])
    assert (unjudged.verdict, unjudged.flagged, unjudged.malformed) == (None, True, True)
    assert re.search(r"not judged: .* leaves \d+ for the content", unjudged.error or "")
    assert judged.error is None  # `none` needs no room for reasoning: it still fits
    assert judged.verdict in ("safe", "unsafe")

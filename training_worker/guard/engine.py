"""The guard: judge a batch of requests with any backend, in two phases.

1. `full` reasoning: generate the reasoning after `<think>`, stopped at `</think>` or the token limit.
   `none`: the reasoning is empty and nothing is generated.
2. Close the reasoning, force `\\boxed{`, and score the continuations `safe`, `unsafe` and
   `unsafe}\\nCategories: <code>` for every code of the policy, on one shared prefix.

The verdict is the likelier of the two; the score is P(unsafe); the categories are the likely codes.
The output is assembled from those choices, so it always has the contract's form; it still goes
through the strict parser, and anything the parser rejects fails closed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable, Sequence

from training_worker.guard.backends.base import Backend
from training_worker.guard.parser import parse_output
from training_worker.guard.scoring import category_scores, normalise, pick_categories, unsafe_probability
from training_worker.guard.template import (
    BOXED_OPEN,
    CATEGORIES_PREFIX,
    CONVERSATION_OPEN,
    THINK_CLOSE,
    THINK_OPEN,
    Message,
    chat_messages,
    escape_content,
)
from training_worker.guard.types import Continuation, GuardRequest, GuardResult

_THINK_TAGS = re.compile(r"</?think>")
DEFAULT_MAX_THINK_TOKENS = 96
DEFAULT_MAX_CONTENT_TOKENS = 2048
# What follows the reasoning: `</think>`, `\boxed{unsafe}`, the category line and its longest code,
# with room to spare.
ANSWER_TOKENS = 48
MESSAGE_SLACK_TOKENS = 16  # "[... 12,345 characters removed ...]" with its line breaks is about 12
MIN_CONTENT_TOKENS = 64


class GuardInputError(ValueError):
    """A request the guard cannot judge as it stands (its policy leaves no room for the content)."""


def share_budget(sizes: Sequence[int], budget: int) -> list[int]:
    """Each message's share of a token budget: a message under an equal share keeps all of its
    tokens, and what it leaves is shared by the longer ones.

    >>> share_budget([100, 5000, 3000], 2048)
    [100, 974, 974]
    >>> share_budget([10, 20], 2048)
    [10, 20]
    >>> share_budget([3000, 900], 2048)
    [1148, 900]
    """
    caps = list(sizes)
    remaining = budget
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    for placed, index in enumerate(order):
        caps[index] = min(sizes[index], remaining // (len(order) - placed))
        remaining -= caps[index]
    return caps


def clean_reasoning(text: str) -> str:
    """Generated reasoning, without think tags of its own (they would break the output's form).

    >>> clean_reasoning("  The user asks </think> for a recipe.\\n")
    'The user asks  for a recipe.'
    >>> clean_reasoning("a </th<think>ink> b")  # removing one tag must not make another
    'a  b'
    """
    cleaned = _THINK_TAGS.sub("", text)
    while cleaned != text:
        text, cleaned = cleaned, _THINK_TAGS.sub("", cleaned)
    return cleaned.replace("\x00", "").strip()  # a token may decode to NUL, which no text column stores


def assemble_output(reasoning: str, verdict: str, categories: Sequence[str]) -> str:
    r"""The output in the contract's form.

    >>> assemble_output("asks for a weapon", "unsafe", ["S2"])
    '<think>\nasks for a weapon\n</think>\n\\boxed{unsafe}\nCategories: S2'
    """
    text = f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{BOXED_OPEN}{verdict}}}"
    if verdict == "unsafe":
        text += CATEGORIES_PREFIX + ", ".join(categories)
    return text


def truncate_middle(text: str, keep_chars: int) -> str:
    r"""Keep the start and the end, where instructions and payloads tend to sit, and say what was cut.

    >>> truncate_middle("abcdefghij", 4)
    'ab\n[... 6 characters removed ...]\nij'
    """
    if len(text) <= keep_chars:
        return text
    head, tail = keep_chars // 2, keep_chars - keep_chars // 2
    return f"{text[:head]}\n[... {len(text) - keep_chars} characters removed ...]\n{text[len(text) - tail :]}"


class Guard:
    def __init__(
        self,
        backend: Backend,
        *,
        max_think_tokens: int = DEFAULT_MAX_THINK_TOKENS,
        max_content_tokens: int = DEFAULT_MAX_CONTENT_TOKENS,
    ) -> None:
        self.backend = backend
        self.max_think_tokens = max_think_tokens
        self.max_content_tokens = max_content_tokens

    def fit(self, request: GuardRequest) -> tuple[GuardRequest, bool]:
        """The request with its messages cut from the middle so that the whole conversation fits its
        budget (`content_budget`); short messages keep every token, the long ones share what is left."""
        # Counted as the prompt holds them: escaped, `<` is `&lt;`, and 6,000 of them are 6,000 tokens more.
        sizes = [self.backend.count_tokens(escape_content(message.content)) for message in request.messages]
        budget = self.content_budget(request)
        if sum(sizes) <= budget:
            return request, False
        messages = tuple(
            message if size <= cap else Message(message.role, self._cut(message.content, size, cap))
            for message, size, cap in zip(request.messages, sizes, share_budget(sizes, budget), strict=True)
        )
        return dataclasses.replace(request, messages=messages), True

    def content_budget(self, request: GuardRequest) -> int:
        """Tokens the conversation may take: `max_content_tokens`, and never more than the model's
        context leaves after the policy, the template's markup, the reasoning and the answer."""
        empty = dataclasses.replace(request, messages=tuple(Message(m.role, "") for m in request.messages))
        prompt = self.prompt(empty)
        around = self.backend.count_tokens(prompt, shared_prefix=self.shared_prefix(prompt))
        answer = ANSWER_TOKENS + (self.max_think_tokens if request.reasoning == "full" else 0)
        # Each message may take a note of its cut, and a token or two where it meets the markup.
        room = self.backend.context_tokens - around - answer - MESSAGE_SLACK_TOKENS * len(request.messages)
        if room < MIN_CONTENT_TOKENS:
            raise GuardInputError(
                f"the policy and the template around {len(request.messages)} message(s) take {around} of the "
                f"model's {self.backend.context_tokens} tokens and the answer {answer}, which leaves "
                f"{max(room, 0)} for the content: use fewer messages, a shorter policy or a model with a "
                "longer context"
            )
        return min(self.max_content_tokens, room)

    def _cut(self, text: str, size: int, cap: int) -> str:
        """`text` cut from the middle to at most `cap` tokens with the note of the cut (or to the note
        alone). Characters stand in for tokens at first; where the kept ends are denser, cut again."""
        keep = int(len(text) * max(cap - MESSAGE_SLACK_TOKENS, 0) / size)
        while True:
            cut = truncate_middle(text, keep)
            tokens = self.backend.count_tokens(escape_content(cut))
            if tokens <= cap or keep == 0:
                return cut
            keep = max(0, min(keep - 1, int(keep * cap / tokens)))

    def prompt(self, request: GuardRequest) -> str:
        return self.backend.render_chat(chat_messages(request.spec, request.messages, request.target)) + THINK_OPEN

    def shared_prefix(self, prompt: str) -> str:
        """The part of a prompt that only depends on the policy version: everything before the conversation."""
        return prompt[: prompt.index(CONVERSATION_OPEN)]

    def judge(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        """One result per request, in order. A request that cannot be judged as it stands gets a
        result that fails closed (no verdict, flagged, the reason as its error); the others are judged."""
        started = time.perf_counter()
        results: list[GuardResult] = []
        fitted: list[tuple[int, GuardRequest, bool]] = []
        for index, request in enumerate(requests):
            try:
                fitted.append((index, *self.fit(request)))
            except GuardInputError as exc:
                results.append(unjudged(str(exc), index=index))
        judged = self._judge_fitted([request for _, request, _ in fitted])
        for (index, _, cut), result in zip(fitted, judged, strict=True):
            result.extra["index"], result.truncated = index, cut
            results.append(result)
        results.sort(key=lambda r: r.extra.pop("index"))
        elapsed_ms = (time.perf_counter() - started) * 1000
        for result in results:
            result.inference_ms = elapsed_ms
        return results

    def _judge_fitted(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        prompts = [self.prompt(r) for r in requests]
        reasonings = [""] * len(requests)
        completion_tokens = [0] * len(requests)
        results: list[GuardResult] = []
        # Requests under one policy version share a prefix and their continuations: they go together.
        for group in _by_prefix(prompts, self.shared_prefix):
            shared = self.shared_prefix(prompts[group[0]])
            full = [i for i in group if requests[i].reasoning == "full"]
            if full:
                generations = self.backend.generate(
                    [prompts[i] for i in full],
                    max_new_tokens=self.max_think_tokens,
                    stop="</think>",
                    shared_prefix=shared,
                )
                for i, generation in zip(full, generations, strict=True):
                    reasonings[i] = clean_reasoning(generation.text)
                    completion_tokens[i] = generation.tokens
            codes = [c["code"] for c in requests[group[0]].spec["categories"]]
            continuations = [Continuation("", "safe"), Continuation("", "unsafe")] + [
                # The space goes with the code, as the tokenizer would write it after "Categories:".
                Continuation("unsafe}" + CATEGORIES_PREFIX.rstrip(" "), " " + code)
                for code in codes
            ]
            prefixes = [prompts[i] + reasonings[i] + THINK_CLOSE + BOXED_OPEN for i in group]
            scores = self.backend.score(prefixes, continuations, shared_prefix=shared)
            for i, logps in zip(group, scores, strict=True):
                prompt_tokens = self.backend.count_tokens(prompts[i], shared_prefix=shared)
                results.append(self._result(i, logps, codes, reasonings[i], prompt_tokens, completion_tokens[i]))
        results.sort(key=lambda r: r.extra.pop("index"))
        return results

    def _result(
        self,
        index: int,
        logps: list[float],
        codes: list[str],
        reasoning: str,
        prompt_tokens: int,
        completion_tokens: int,
    ) -> GuardResult:
        p_unsafe = unsafe_probability(logps[0], logps[1])
        if any(math.isnan(logp) for logp in (p_unsafe, *logps)):
            # NaN compares false with everything: `nan >= 0.5` would have made the verdict "safe".
            return unjudged("the model's scores are not numbers (NaN): it cannot judge", index=index)
        given_unsafe = normalise(dict(zip(codes, logps[2:], strict=True)))
        verdict = "unsafe" if p_unsafe >= 0.5 else "safe"
        chosen = pick_categories(given_unsafe) if verdict == "unsafe" else []
        raw = assemble_output(reasoning, verdict, chosen)
        parsed = parse_output(raw, set(codes))
        return GuardResult(
            verdict=parsed.verdict,
            score=p_unsafe,
            categories=list(parsed.categories),
            category_scores=category_scores(p_unsafe, given_unsafe),
            reasoning=parsed.reasoning,
            raw_output=raw,
            error=parsed.error,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            inference_ms=0.0,
            extra={"index": index},
        )


def unjudged(reason: str, *, index: int | None = None) -> GuardResult:
    """The result for a request the guard could not judge: no verdict, so flagged and sent to review.
    `index` is the request's place in its batch, while `judge` sorts the results."""
    return GuardResult(
        verdict=None,
        score=1.0,  # fails closed: treated as unsafe until a person looks
        categories=[],
        category_scores={},
        reasoning="",
        raw_output="",
        error=f"not judged: {reason}",
        prompt_tokens=0,
        completion_tokens=0,
        inference_ms=0.0,
        extra={} if index is None else {"index": index},
    )


def _by_prefix(prompts: Sequence[str], shared_prefix: Callable[[str], str]) -> list[list[int]]:
    """Indices of the prompts grouped by their policy prefix (one group per policy version)."""
    groups: dict[str, list[int]] = {}
    for i, prompt in enumerate(prompts):
        groups.setdefault(shared_prefix(prompt), []).append(i)
    return list(groups.values())

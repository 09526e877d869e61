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
)
from training_worker.guard.types import Continuation, GuardRequest, GuardResult

_THINK_TAGS = re.compile(r"</?think>")
DEFAULT_MAX_THINK_TOKENS = 96
DEFAULT_MAX_CONTENT_TOKENS = 2048


def clean_reasoning(text: str) -> str:
    """Generated reasoning, without think tags of its own (they would break the output's form).

    >>> clean_reasoning("  The user asks </think> for a recipe.\\n")
    'The user asks  for a recipe.'
    """
    return _THINK_TAGS.sub("", text).strip()


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
        """The request with each message cut from the middle to the content token budget."""
        messages, cut = [], False
        for message in request.messages:
            tokens = self.backend.count_tokens(message.content)
            if tokens > self.max_content_tokens:
                keep = int(len(message.content) * self.max_content_tokens / tokens)
                message = Message(message.role, truncate_middle(message.content, keep))
                cut = True
            messages.append(message)
        return (dataclasses.replace(request, messages=tuple(messages)), True) if cut else (request, False)

    def prompt(self, request: GuardRequest) -> str:
        return self.backend.render_chat(chat_messages(request.spec, request.messages, request.target)) + THINK_OPEN

    def shared_prefix(self, prompt: str) -> str:
        """The part of a prompt that only depends on the policy version: everything before the conversation."""
        return prompt[: prompt.index(CONVERSATION_OPEN)]

    def judge(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        started = time.perf_counter()
        fitted = [self.fit(r) for r in requests]
        requests = [request for request, _ in fitted]
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
        results.sort(key=lambda r: r.extra["index"])
        elapsed_ms = (time.perf_counter() - started) * 1000
        for result in results:
            result.inference_ms = elapsed_ms
            result.truncated = fitted[result.extra.pop("index")][1]
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


def _by_prefix(prompts: Sequence[str], shared_prefix: Callable[[str], str]) -> list[list[int]]:
    """Indices of the prompts grouped by their policy prefix (one group per policy version)."""
    groups: dict[str, list[int]] = {}
    for i, prompt in enumerate(prompts):
        groups.setdefault(shared_prefix(prompt), []).append(i)
    return list(groups.values())

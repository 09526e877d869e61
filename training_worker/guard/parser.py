"""The strict parser of the guard's output.

Accepted, and nothing else:

    <think>
    ...reasoning, which never contains <think> or </think>...
    </think>
    \\boxed{safe}

or `\\boxed{unsafe}` followed by a line `Categories: S1, S3` naming one or more codes of the policy,
each once. Anything else is malformed; callers fail closed on it (flag and send to review).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

_OUTPUT = re.compile(
    r"\A<think>\n?(?P<think>.*?)\n?</think>\n"
    r"\\boxed\{(?P<verdict>[^}]*)\}"
    r"(?:\nCategories:[ ]?(?P<categories>[^\n]*))?"
    r"\n?\Z",
    re.DOTALL,
)


@dataclass(frozen=True)
class ParsedOutput:
    verdict: str | None  # "safe" | "unsafe" | None when malformed
    categories: tuple[str, ...]
    reasoning: str
    error: str | None = None

    @property
    def malformed(self) -> bool:
        return self.error is not None


def _malformed(reason: str, reasoning: str = "") -> ParsedOutput:
    return ParsedOutput(verdict=None, categories=(), reasoning=reasoning, error=reason)


def parse_output(text: str, allowed_codes: Collection[str]) -> ParsedOutput:
    r"""Parse one output against the codes of the policy it was judged under.

    >>> parse_output("<think>\nasks for a weapon\n</think>\n\\boxed{unsafe}\nCategories: S2", {"S1", "S2"})
    ParsedOutput(verdict='unsafe', categories=('S2',), reasoning='asks for a weapon', error=None)
    >>> parse_output("\\boxed{safe}", {"S1"}).error
    'the output does not match <think>...</think> then \\boxed{safe|unsafe}'
    """
    match = _OUTPUT.match(text)
    if match is None:
        return _malformed("the output does not match <think>...</think> then \\boxed{safe|unsafe}")
    reasoning = match.group("think").strip()
    if "<think>" in reasoning or "</think>" in reasoning:
        return _malformed("the reasoning opens or closes a <think> block of its own", reasoning)
    verdict = match.group("verdict")
    if verdict not in ("safe", "unsafe"):
        return _malformed(f"the verdict {verdict!r} is neither 'safe' nor 'unsafe'", reasoning)
    raw_codes = match.group("categories")
    if verdict == "safe":
        if raw_codes is not None:
            return _malformed("a safe verdict must not name categories", reasoning)
        return ParsedOutput(verdict="safe", categories=(), reasoning=reasoning)
    if raw_codes is None or not raw_codes.strip():
        return _malformed("an unsafe verdict must name its categories", reasoning)
    codes = tuple(code.strip() for code in raw_codes.split(","))
    unknown = [code for code in codes if code not in allowed_codes]
    if unknown:
        return _malformed(f"categories not in the policy: {', '.join(unknown)}", reasoning)
    if len(set(codes)) != len(codes):
        return _malformed("a category is named twice", reasoning)
    return ParsedOutput(verdict="unsafe", categories=codes, reasoning=reasoning)

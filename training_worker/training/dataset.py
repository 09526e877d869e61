"""The training set: labelled cases rendered with the guard's own prompt.

- **eval**: every case whose content is held out. A case's split is fixed by a hash of its content
  when it is stored (`case_split`); here a content hash counts as held out if *any* case with it is,
  so the same content labelled twice can never sit on both sides.
- **train**: the cases labelled since the last successful run (all of them on the first run), plus a
  seeded random replay sample of older training cases, so the model does not forget them.

Each example carries its prompt as the chat messages the guard renders (`chat_messages`): the
policy version the case was judged under, or, for cases without one (imported), the policy version
published now. `render_prompt` turns them into the exact text the guard feeds the model.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Max, QuerySet, Subquery

from moderation_app.models import Case
from policies_app.models import Policy, PolicyVersion
from training_worker.guard.template import THINK_OPEN, Message, Target, chat_messages


@dataclass(frozen=True)
class TrainingExample:
    """One labelled case rendered for training.

    `prompt` is the chat (system: instructions and policy; user: the conversation) that the guard
    renders with the model's chat template and opens with `<think>\\n` (see `render_prompt`).
    """

    case_id: int
    prompt: list[dict[str, str]]
    label: str  # "safe" | "unsafe"
    categories: tuple[str, ...]  # labelled codes that exist in the policy
    allowed_codes: tuple[str, ...]
    rationale: str
    split: str  # "train" | "eval"
    spec: Mapping[str, Any]  # the policy version's parsed spec, for the guard's own evaluation path
    messages: tuple[Message, ...]
    target: Target
    content_hash: str = ""


@dataclass(frozen=True)
class TrainingDataset:
    train: list[TrainingExample]
    eval: list[TrainingExample]
    new_cases: int
    replay_cases: int
    skipped_cases: int = 0  # cases with no policy to judge them under (none given, none published)


def render_prompt(tokenizer: Any, prompt: list[dict[str, str]]) -> str:
    """The exact text the guard feeds the model (`Guard.prompt`): the chat template, then `<think>\\n`."""
    return str(tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)) + THINK_OPEN


def example_from_case(case: Case, spec: Mapping[str, Any]) -> TrainingExample:
    codes = tuple(str(c["code"]) for c in spec["categories"])
    messages = tuple(Message(str(m["role"]), str(m["content"])) for m in case.messages)
    target: Target = "response" if case.target == "response" else "prompt"
    return TrainingExample(
        case_id=case.pk,
        prompt=chat_messages(spec, messages, target),
        label=case.verdict,
        categories=tuple(c for c in case.categories if c in codes),
        allowed_codes=codes,
        rationale=case.rationale,
        split=case.split,
        spec=spec,
        messages=messages,
        target=target,
        content_hash=case.content_hash,
    )


def published_policy_version() -> PolicyVersion | None:
    """The version imported cases are rendered under: the default policy's published one, else the
    most recently created published version of any policy."""
    published = Policy.objects.filter(published_version__isnull=False).select_related("published_version")
    policy = published.filter(slug=settings.DEFAULT_POLICY_SLUG).first()
    policy = policy or published.order_by("-published_version__created_at").first()
    return policy.published_version if policy is not None else None


def held_out_hashes() -> QuerySet[Case, str]:
    """The content hashes of held-out cases, as a subquery."""
    return Case.objects.filter(split=Case.Split.EVAL).values_list("content_hash", flat=True)


def _examples(cases: Iterable[Case], fallback: PolicyVersion | None) -> tuple[list[TrainingExample], int]:
    examples, skipped = [], 0
    for case in cases:
        version = case.policy_version or fallback
        if version is None:
            skipped += 1
            continue
        examples.append(example_from_case(case, version.spec))
    return examples, skipped


def training_dataset_build(
    *, since: datetime | None, replay_size: int, seed: int = 0, eval_size: int | None = None
) -> TrainingDataset:
    """The train and eval examples for a run. `since`: when the last successful run's data was taken
    (None: everything is new). `eval_size` caps the eval split with a stable sample (by content hash)."""
    held_out = held_out_hashes()
    # One case per content, the newest: the same words labelled safe and later unsafe (a review that
    # corrected an import, two reviews that disagreed) were trained, or evaluated, as both.
    newest = Case.objects.values("content_hash").annotate(newest=Max("id")).values("newest")
    cases = Case.objects.select_related("policy_version").filter(id__in=Subquery(newest)).order_by("id")
    trainable = cases.exclude(content_hash__in=held_out).filter(verdict__in=("safe", "unsafe"))
    new = list(trainable.filter(created_at__gt=since) if since is not None else trainable)
    older_ids = list(trainable.filter(created_at__lte=since).values_list("id", flat=True)) if since is not None else []
    replay_ids = sorted(random.Random(seed).sample(older_ids, min(replay_size, len(older_ids))))
    replay = list(cases.filter(id__in=replay_ids))
    held_out_cases = cases.filter(content_hash__in=held_out).order_by("content_hash", "id")
    eval_cases = list(held_out_cases[:eval_size] if eval_size is not None else held_out_cases)
    fallback = published_policy_version()
    train, skipped_train = _examples([*new, *replay], fallback)
    held, skipped_eval = _examples(eval_cases, fallback)
    return TrainingDataset(
        train=train,
        # A case stored as "train" whose content is held out through another case is evaluated too.
        eval=[dataclasses.replace(example, split=Case.Split.EVAL) for example in held],
        new_cases=len(new),
        replay_cases=len(replay),
        skipped_cases=skipped_train + skipped_eval,
    )

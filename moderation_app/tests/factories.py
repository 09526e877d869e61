from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from moderation_app.models import ApiKey, Decision
from moderation_app.services import ModerationInput, decision_complete, decision_record
from policies_app.services import policy_ensure_default
from training_worker.guard.engine import assemble_output
from training_worker.guard.types import GuardResult
from training_worker.models import ModelVersion
from training_worker.services import model_version_register


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        if create and extracted:
            # get_or_create: transactional tests flush the tables, groups made by the migration included.
            self.groups.add(*(Group.objects.get_or_create(name=name)[0] for name in extracted))


def recorded_decision(
    *, text: str = "hello", reasoning: str = "full", api_key: ApiKey | None = None, source: str = "api"
) -> Decision:
    """A pending decision, recorded through the API's service under the default policy."""
    policy, _ = policy_ensure_default()
    assert policy.published_version is not None
    decision, _ = decision_record(
        api_key=api_key,
        actor=None,
        policy_version=policy.published_version,
        request=ModerationInput(messages=[{"role": "user", "content": text}], target="prompt", reasoning=reasoning),
        source=source,
    )
    return decision


def judged_decision(
    *,
    verdict: str | None,
    score: float,
    text: str = "hello",
    api_key: ApiKey | None = None,
    source: str = "api",
    reasoning: str = "because",
    model_version: ModelVersion | None = None,
) -> Decision:
    """A request recorded through the API's service under the default policy, then completed with a
    fixed judgement: a fake guard result, for tests about what happens after the guard. A `None`
    verdict is a malformed output."""
    decision = recorded_decision(text=text, api_key=api_key, source=source)
    categories = ["S1"] if verdict == "unsafe" else []
    judgement = GuardResult(
        verdict=verdict,
        score=score,
        categories=categories,
        category_scores={"S1": score},
        reasoning=reasoning,
        raw_output=assemble_output(reasoning, verdict or "safe", categories),
        error=None if verdict else "the output does not match",
        prompt_tokens=10,
        completion_tokens=2,
        inference_ms=1.0,
    )
    model = model_version or model_version_register(name=f"m-{decision.pk}", base="x", path="/m")
    return decision_complete(decision=decision, result=judgement, model_version=model, started_at=timezone.now())

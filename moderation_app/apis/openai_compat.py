"""`POST /v1/moderations`: OpenAI's moderation API, answered by the guard under the key's policy.

An existing OpenAI moderation client works with only its base URL changed. Categories are keyed by
the policy's category names; `category_scores` are the guard's P(unsafe and category). Items are
judged with reasoning `none` (one scoring pass each), as a high-volume screening endpoint should be.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.actors import request_actor
from config.errors import ApiError
from config.fields import StringField, TextField
from moderation_app.apis.moderation import caller_key, resolve_policy_version, wait_for_decisions
from moderation_app.authentication import rate_limit_items
from moderation_app.models import Decision
from moderation_app.services import ModerationInput, decision_record, decisions_enqueue_batch

# The model names OpenAI's clients send; they mean "the guard", so the key's policy judges.
OPENAI_MODEL_PREFIXES = ("omni-moderation", "text-moderation")


def policy_of_model(model: str | None) -> str | None:
    """The policy a request's `model` names: none (the key's policy) for no model or one of OpenAI's,
    else a policy slug, which must exist (404 otherwise: a typo must not be judged under another policy).

    >>> policy_of_model(None), policy_of_model("omni-moderation-latest"), policy_of_model("core-safety")
    (None, None, 'core-safety')
    """
    if not model or model.startswith(OPENAI_MODEL_PREFIXES):
        return None
    return model


class OpenAIModerationsApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        input = serializers.JSONField(help_text="A string or a list of strings.")
        model = StringField(
            required=False,
            help_text="A policy slug; none, or one of OpenAI's model names: the API key's policy.",
        )

        def validate_input(self, value: Any) -> list[str]:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
                raise serializers.ValidationError("must be a non-empty string or a non-empty list of non-empty strings")
            if len(items) > settings.MODERATION_MAX_BATCH:
                raise serializers.ValidationError(f"at most {settings.MODERATION_MAX_BATCH} items per request")
            return [self._text(item, n if isinstance(value, list) else None) for n, item in enumerate(items)]

        @staticmethod
        def _text(item: str, index: int | None) -> str:
            """An item checked as /api/v1/moderate checks its `input`: text, not whitespace alone, storable."""
            try:
                text: str = TextField().run_validation(item)
            except serializers.ValidationError as error:
                detail = error.detail[0] if isinstance(error.detail, list) else error.detail
                raise serializers.ValidationError(detail if index is None else f"item {index}: {detail}") from None
            return text

    @extend_schema(request=InputSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items: list[str] = data.validated_data["input"]
        longest = max(len(i) for i in items)
        if longest > settings.MODERATION_MAX_CHARS:
            raise ApiError(
                code="too_large",
                message=f"an input is {longest:,} characters; the limit is {settings.MODERATION_MAX_CHARS:,}",
                status_code=413,
            )
        rate_limit_items(request, items=len(items))
        key = caller_key(request)
        version = resolve_policy_version(slug=policy_of_model(data.validated_data.get("model")), number=None, key=key)
        with transaction.atomic():
            decisions = [
                decision_record(
                    api_key=key,
                    actor=request_actor(request.user),
                    policy_version=version,
                    request=ModerationInput(
                        messages=[{"role": "user", "content": item}], target="prompt", reasoning="none"
                    ),
                    enqueue=False,
                )[0]
                for item in items
            ]
            task_id = decisions_enqueue_batch(decisions=decisions, waited_for=True)
        try:
            decisions = wait_for_decisions(decisions, task_ids=[task_id])
        except ApiError as exc:
            if exc.status_code == 503:
                # The decisions are kept and judged later; OpenAI's clients would retry a 5xx twice
                # by themselves, recording the same inputs twice more. This header tells them not to.
                exc.headers["x-should-retry"] = "false"
            raise
        names = {c["code"]: c["name"] for c in version.spec["categories"]}
        guard = decisions[0].model_version
        return Response(
            {
                "id": f"modr-{decisions[0].id}",
                "model": guard.name if guard else "unknown",
                "results": [self._result(d, names) for d in decisions],
            }
        )

    @staticmethod
    def _result(decision: Decision, names: dict[str, str]) -> dict[str, Any]:
        flagged = set(decision.categories)
        return {
            "flagged": bool(decision.flagged),
            "categories": {name: code in flagged for code, name in names.items()},
            "category_scores": {name: float(decision.category_scores.get(code, 0.0)) for code, name in names.items()},
            "decision_id": str(decision.id),
        }

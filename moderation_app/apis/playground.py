"""`POST /api/v1/playground/`: policy editors try content against a version or an unsaved draft."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.fields import TextField
from moderation_app.apis.moderation import MessageSerializer, check_size, validate_conversation
from moderation_app.roles import IsPolicyEditor
from moderation_app.services.playground import playground_judge, playground_policy_resolve
from policies_app.selectors import policy_get


class PlaygroundApi(APIView):
    """Runs are answered, never stored: they stay out of decisions, review and training data."""

    permission_classes = [IsPolicyEditor]

    class InputSerializer(serializers.Serializer[Any]):
        policy = serializers.SlugField()
        policy_version = serializers.IntegerField(min_value=1, required=False, help_text="Default: the published one.")
        # `source` shadows Field.source in the type stubs only; DRF reads declared fields by name.
        source = serializers.CharField(  # type: ignore[assignment]
            required=False, trim_whitespace=False, help_text="An unsaved draft of the policy's YAML."
        )
        input = TextField(required=False)
        messages = MessageSerializer(many=True, required=False, allow_empty=False)
        target = serializers.ChoiceField(choices=["prompt", "response"], required=False)
        reasoning = serializers.ChoiceField(choices=["full", "none"], default="full")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if "source" in attrs and "policy_version" in attrs:
                raise serializers.ValidationError({"source": "give a draft `source` or a `policy_version`, not both"})
            return validate_conversation(attrs)

    class OutputSerializer(serializers.Serializer[Any]):
        verdict = serializers.CharField(allow_null=True)
        flagged = serializers.BooleanField()
        malformed = serializers.BooleanField()
        score = serializers.FloatField()
        categories = serializers.ListField(child=serializers.CharField())
        category_scores = serializers.DictField(child=serializers.FloatField())
        reasoning = serializers.CharField(allow_blank=True)
        raw_output = serializers.CharField(allow_blank=True)
        error = serializers.CharField(allow_blank=True, help_text="Why the output is malformed, or not judged.")
        content_truncated = serializers.BooleanField()
        policy = serializers.DictField()
        model = serializers.DictField()
        inference_ms = serializers.FloatField()
        latency_ms = serializers.FloatField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        check_size(body)
        policy = playground_policy_resolve(
            policy=policy_get(slug=body["policy"]), version=body.get("policy_version"), source=body.get("source")
        )
        result = playground_judge(
            policy=policy, messages=body["messages"], target=body["target"], reasoning=body["reasoning"]
        )
        return Response(self.OutputSerializer(result).data)

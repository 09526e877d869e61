"""Policies over HTTP. Reading needs any sign-in; writing needs the policy_editor role."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.actors import request_actor
from moderation_app.roles import IsPolicyEditor
from policies_app.models import Policy
from policies_app.selectors import policy_get, policy_list
from policies_app.services import policy_create


class PolicyOutputSerializer(serializers.ModelSerializer[Policy]):
    latest_version = serializers.SerializerMethodField()
    published_version = serializers.SerializerMethodField()

    class Meta:
        model = Policy
        fields = ["slug", "title", "description", "latest_version", "published_version", "created_at"]

    def get_latest_version(self, obj: Policy) -> int | None:
        number = getattr(obj, "latest_number", None)
        return int(number) if number is not None else None

    def get_published_version(self, obj: Policy) -> int | None:
        return obj.published_version.number if obj.published_version else None


class PolicyListApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        # `source` shadows Field.source in the type stubs only; DRF reads declared fields by name.
        source = serializers.CharField(trim_whitespace=False)  # type: ignore[assignment]
        message = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def get_permissions(self) -> list[Any]:
        return [IsPolicyEditor()] if self.request.method == "POST" else [IsAuthenticated()]

    @extend_schema(responses={200: PolicyOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(PolicyOutputSerializer(policy_list(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: PolicyOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = policy_create(actor=request_actor(request.user), **data.validated_data)
        return Response(PolicyOutputSerializer(policy_get(slug=policy.slug)).data, status=status.HTTP_201_CREATED)


class PolicyDetailApi(APIView):
    @extend_schema(responses={200: PolicyOutputSerializer})
    def get(self, request: Request, slug: str) -> Response:
        return Response(PolicyOutputSerializer(policy_get(slug=slug)).data)

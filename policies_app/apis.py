"""Policies over HTTP. Reading needs any sign-in; writing needs the policy_editor role."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.actors import request_actor
from moderation_app.roles import IsPolicyEditor
from policies_app.models import (
    Policy,
    PolicyBacktest,
    PolicyEvent,
    PolicyTestResult,
    PolicyTestRun,
    PolicyVersion,
)
from policies_app.selectors import (
    policy_backtest_get,
    policy_backtest_list,
    policy_diff,
    policy_event_list,
    policy_get,
    policy_list,
    policy_test_run_get,
    policy_test_run_list,
    policy_version_get,
    policy_version_list,
)
from policies_app.services import (
    policy_backtest_create,
    policy_create,
    policy_test_run_create,
    policy_version_create,
    policy_version_publish,
)
from policies_app.spec import POLICY_SCHEMA, validate_policy


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


class SourceInputSerializer(serializers.Serializer[Any]):
    # `source` shadows Field.source in the type stubs only; DRF reads declared fields by name.
    source = serializers.CharField(trim_whitespace=False)  # type: ignore[assignment]
    message = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class EditorWritesView(APIView):
    """Reading needs any sign-in; POST needs the policy_editor role."""

    def get_permissions(self) -> list[Any]:
        return [IsPolicyEditor()] if self.request.method == "POST" else [IsAuthenticated()]


class PolicyVersionOutputSerializer(serializers.ModelSerializer[PolicyVersion]):
    author: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    categories = serializers.ListField(child=serializers.DictField(), read_only=True)
    parent = serializers.SerializerMethodField()  # type: ignore[assignment]

    class Meta:
        model = PolicyVersion
        fields = ["number", "sha256", "source", "categories", "author", "message", "parent", "created_at"]

    def get_parent(self, obj: PolicyVersion) -> int | None:
        return obj.parent.number if obj.parent_id and obj.parent else None


class PolicyListApi(EditorWritesView):
    InputSerializer = SourceInputSerializer

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


class PolicyVersionListApi(EditorWritesView):
    InputSerializer = SourceInputSerializer

    @extend_schema(responses={200: PolicyVersionOutputSerializer(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        versions = policy_version_list(policy=policy_get(slug=slug))
        return Response(PolicyVersionOutputSerializer(versions, many=True).data)

    @extend_schema(request=SourceInputSerializer, responses={201: PolicyVersionOutputSerializer})
    def post(self, request: Request, slug: str) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = policy_version_create(
            policy=policy_get(slug=slug), actor=request_actor(request.user), **data.validated_data
        )
        return Response(PolicyVersionOutputSerializer(version).data, status=status.HTTP_201_CREATED)


class PolicyVersionDetailApi(APIView):
    """Versions are immutable: only GET is defined, so PUT, PATCH and DELETE answer 405."""

    @extend_schema(responses={200: PolicyVersionOutputSerializer})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = policy_version_get(policy=policy_get(slug=slug), number=number)
        return Response(PolicyVersionOutputSerializer(version).data)


class PolicyVersionPublishApi(APIView):
    permission_classes = [IsPolicyEditor]

    class InputSerializer(serializers.Serializer[Any]):
        note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
        force = serializers.BooleanField(
            required=False, default=False, help_text="Publish past a failing publish gate (needs a note)."
        )

    @extend_schema(request=InputSerializer, responses={200: PolicyOutputSerializer})
    def post(self, request: Request, slug: str, number: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = policy_get(slug=slug)
        version = policy_version_get(policy=policy, number=number)
        policy_version_publish(policy=policy, version=version, actor=request_actor(request.user), **data.validated_data)
        return Response(PolicyOutputSerializer(policy_get(slug=slug)).data)


class PolicyDiffApi(APIView):
    class QuerySerializer(serializers.Serializer[Any]):
        # `from` is a Python keyword, so the query names are mapped by hand.
        from_number = serializers.IntegerField(min_value=1)
        to_number = serializers.IntegerField(min_value=1)

    class OutputSerializer(serializers.Serializer[Any]):
        diff = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request: Request, slug: str) -> Response:
        query = self.QuerySerializer(
            data={"from_number": request.query_params.get("from"), "to_number": request.query_params.get("to")}
        )
        query.is_valid(raise_exception=True)
        diff = policy_diff(
            policy=policy_get(slug=slug),
            from_number=query.validated_data["from_number"],
            to_number=query.validated_data["to_number"],
        )
        return Response({"diff": diff})


class PolicyValidateApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        source = serializers.CharField(trim_whitespace=False, allow_blank=True)  # type: ignore[assignment]
        slug = serializers.SlugField(required=False, help_text="Check the id against this existing policy.")

    @extend_schema(request=InputSerializer, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        errors = validate_policy(
            data.validated_data["source"],
            max_bytes=settings.POLICY_MAX_SOURCE_BYTES,
            expected_id=data.validated_data.get("slug"),
        )
        return Response({"valid": not errors, "errors": [error.as_dict() for error in errors]})


class PolicySchemaApi(APIView):
    @extend_schema(responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response(POLICY_SCHEMA)


class PolicyEventOutputSerializer(serializers.ModelSerializer[PolicyEvent]):
    actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    version = serializers.SerializerMethodField()

    class Meta:
        model = PolicyEvent
        fields = ["kind", "version", "actor", "note", "created_at"]

    def get_version(self, obj: PolicyEvent) -> int | None:
        return obj.version.number if obj.version else None


class PolicyEventListApi(APIView):
    @extend_schema(responses={200: PolicyEventOutputSerializer(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        return Response(PolicyEventOutputSerializer(policy_event_list(policy=policy_get(slug=slug)), many=True).data)


class PolicyTestResultOutputSerializer(serializers.ModelSerializer[PolicyTestResult]):
    class Meta:
        model = PolicyTestResult
        fields = [
            "index",
            "name",
            "input",
            "target",
            "expected",
            "expected_categories",
            "got",
            "categories",
            "score",
            "reasoning",
            "passed",
        ]


class PolicyTestRunOutputSerializer(serializers.ModelSerializer[PolicyTestRun]):
    policy = serializers.CharField(source="version.policy.slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    passed = serializers.BooleanField(read_only=True)
    results = PolicyTestResultOutputSerializer(many=True, read_only=True)

    class Meta:
        model = PolicyTestRun
        fields = [
            "id",
            "policy",
            "version",
            "status",
            "total",
            "passed_count",
            "pass_rate",
            "required_pass_rate",
            "passed",
            "model_name",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "results",
        ]


class PolicyTestRunListApi(EditorWritesView):
    """POST starts a run of the version's tests on a guard worker (202); GET lists its runs, newest first."""

    @extend_schema(responses={200: PolicyTestRunOutputSerializer(many=True)})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = policy_version_get(policy=policy_get(slug=slug), number=number)
        return Response(PolicyTestRunOutputSerializer(policy_test_run_list(version=version), many=True).data)

    @extend_schema(request=None, responses={202: PolicyTestRunOutputSerializer})
    def post(self, request: Request, slug: str, number: int) -> Response:
        version = policy_version_get(policy=policy_get(slug=slug), number=number)
        run = policy_test_run_create(version=version, actor=request_actor(request.user))
        return Response(
            PolicyTestRunOutputSerializer(policy_test_run_get(run_id=run.pk)).data, status=status.HTTP_202_ACCEPTED
        )


class PolicyTestRunDetailApi(APIView):
    @extend_schema(responses={200: PolicyTestRunOutputSerializer})
    def get(self, request: Request, run_id: int) -> Response:
        return Response(PolicyTestRunOutputSerializer(policy_test_run_get(run_id=run_id)).data)


class PolicyBacktestOutputSerializer(serializers.ModelSerializer[PolicyBacktest]):
    policy = serializers.CharField(source="version.policy.slug", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    baseline_version = serializers.IntegerField(source="baseline.number", read_only=True, allow_null=True)

    class Meta:
        model = PolicyBacktest
        fields = [
            "id",
            "policy",
            "version",
            "baseline_version",
            "status",
            "sample_size",
            "reasoning",
            "cases_total",
            "metrics",
            "baseline_metrics",
            "flips",
            "model_name",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]


class PolicyBacktestListApi(EditorWritesView):
    """POST runs the version over the labelled cases (or a sample), next to the published version (202)."""

    class InputSerializer(serializers.Serializer[Any]):
        sample = serializers.IntegerField(min_value=1, required=False, help_text="Judge only this many cases.")
        reasoning = serializers.ChoiceField(choices=["none", "full"], default="none")

    @extend_schema(responses={200: PolicyBacktestOutputSerializer(many=True)})
    def get(self, request: Request, slug: str, number: int) -> Response:
        version = policy_version_get(policy=policy_get(slug=slug), number=number)
        return Response(PolicyBacktestOutputSerializer(policy_backtest_list(version=version), many=True).data)

    @extend_schema(request=InputSerializer, responses={202: PolicyBacktestOutputSerializer})
    def post(self, request: Request, slug: str, number: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = policy_version_get(policy=policy_get(slug=slug), number=number)
        backtest = policy_backtest_create(
            version=version,
            actor=request_actor(request.user),
            sample_size=data.validated_data.get("sample"),
            reasoning=data.validated_data["reasoning"],
        )
        return Response(
            PolicyBacktestOutputSerializer(policy_backtest_get(backtest_id=backtest.pk)).data,
            status=status.HTTP_202_ACCEPTED,
        )


class PolicyBacktestDetailApi(APIView):
    @extend_schema(responses={200: PolicyBacktestOutputSerializer})
    def get(self, request: Request, backtest_id: int) -> Response:
        return Response(PolicyBacktestOutputSerializer(policy_backtest_get(backtest_id=backtest_id)).data)

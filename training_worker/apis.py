"""The model registry and training runs over HTTP, for ML engineers (the Models and Training pages)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.pagination import StrictLimitOffsetPagination
from moderation_app.roles import IsMlEngineer
from training_worker.models import ModelVersion, TrainingRun
from training_worker.selectors import model_version_get, model_version_list, training_run_get, training_run_list
from training_worker.services import model_version_activate, training_run_create


def _engineer(request: Request) -> User:
    assert isinstance(request.user, User)  # IsMlEngineer admits staff users only
    return request.user


class ModelOutputSerializer(serializers.ModelSerializer[ModelVersion]):
    source = serializers.CharField(read_only=True)  # type: ignore[assignment]
    parent: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        read_only=True
    )
    training_run: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(read_only=True)
    activated_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "base",
            "path",
            "template_version",
            "source",
            "status",
            "metrics",
            "parent",
            "training_run",
            "created_at",
            "activated_at",
            "activated_by",
        ]


# What a run has not got to yet is null, not an empty object.
NULL_UNTIL_RECORDED = ("dataset", "eval_before", "eval_after", "gate")


class TrainingRunOutputSerializer(serializers.ModelSerializer[TrainingRun]):
    requested_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    candidate = serializers.SerializerMethodField()
    duration_s = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = TrainingRun
        fields = [
            "id",
            "status",
            "trigger",
            "requested_by",
            "config",
            "dataset",
            "sft_ran",
            "sft_steps",
            "sft_format_rate",
            "steps",
            "eval_before",
            "eval_after",
            "gate",
            "base_model",
            "candidate",
            "error",
            "logs",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "duration_s",
        ]

    def to_representation(self, instance: TrainingRun) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        for name in NULL_UNTIL_RECORDED:
            data[name] = data[name] or None
        return data

    def get_candidate(self, obj: TrainingRun) -> int | None:
        candidate = getattr(obj, "candidate", None)  # the reverse one-to-one raises when there is none
        return candidate.pk if candidate is not None else None


def _paginated(
    request: Request, view: APIView, queryset: Any, serializer: type[serializers.BaseSerializer[Any]]
) -> Response:
    paginator = StrictLimitOffsetPagination()
    page: list[Any] | None = paginator.paginate_queryset(queryset, request, view=view)
    response: Response = paginator.get_paginated_response(serializer(page, many=True).data)
    return response


class ModelListApi(APIView):
    permission_classes = [IsMlEngineer]

    @extend_schema(responses={200: ModelOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return _paginated(request, self, model_version_list(), ModelOutputSerializer)


class ModelActivateApi(APIView):
    """Promote a candidate or roll back to an earlier model: whichever is activated becomes the one the
    guard workers load (they switch within seconds, without a restart)."""

    permission_classes = [IsMlEngineer]

    @extend_schema(request=None, responses={200: ModelOutputSerializer})
    def post(self, request: Request, model_id: int) -> Response:
        model = model_version_activate(model_version=model_version_get(model_id=model_id), actor=_engineer(request))
        return Response(ModelOutputSerializer(model_version_get(model_id=model.pk)).data)


class TrainingRunListApi(APIView):
    permission_classes = [IsMlEngineer]

    @extend_schema_serializer(component_name="TrainingRunCreate")
    class InputSerializer(serializers.Serializer[Any]):
        steps = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
        config = serializers.DictField(required=False, default=dict)

    @extend_schema(responses={200: TrainingRunOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return _paginated(request, self, training_run_list(), TrainingRunOutputSerializer)

    @extend_schema(request=InputSerializer, responses={202: TrainingRunOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = training_run_create(
            trigger=TrainingRun.Trigger.MANUAL,
            requested_by=_engineer(request),
            steps=data.validated_data.get("steps"),
            config=data.validated_data["config"],
        )
        return Response(
            TrainingRunOutputSerializer(training_run_get(run_id=run.pk)).data, status=status.HTTP_202_ACCEPTED
        )


class TrainingRunDetailApi(APIView):
    permission_classes = [IsMlEngineer]

    @extend_schema(responses={200: TrainingRunOutputSerializer})
    def get(self, request: Request, run_id: int) -> Response:
        return Response(TrainingRunOutputSerializer(training_run_get(run_id=run_id)).data)

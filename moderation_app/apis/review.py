"""The review queue over HTTP (reviewers) and the labelled cases it produces."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import ApiError
from config.fields import StringField
from config.pagination import StrictLimitOffsetPagination, first_chunk_read
from config.parsers import JSONParser
from moderation_app.apis.moderation import DecisionDetailOutputSerializer, ReviewHistoryLabelSerializer
from moderation_app.models import Case, ReviewItem, ReviewLabel
from moderation_app.roles import IsReviewer, RolePermission
from moderation_app.selectors import (
    case_list,
    cases_for_export,
    decision_review_labels,
    review_item_get,
    review_labels_visible,
    review_reviewer_stats,
    review_skipped_open_count,
    review_stats,
)
from moderation_app.services import (
    case_export_line,
    case_import_version,
    cases_import,
    parse_case_rows,
    review_claim_next,
    review_label,
    review_release,
)


def _reviewer(request: Request) -> User:
    assert isinstance(request.user, User)  # IsReviewer admits staff users only
    return request.user


class ReviewItemOutputSerializer(serializers.ModelSerializer[ReviewItem]):
    decision = DecisionDetailOutputSerializer(read_only=True)
    policy_categories = serializers.SerializerMethodField()
    earlier_labels = serializers.SerializerMethodField()

    class Meta:
        model = ReviewItem
        fields = [
            "id",
            "reason",
            "priority",
            "status",
            "labels_needed",
            "escalated_at",
            "claim_expires_at",
            "created_at",
            "decision",
            "policy_categories",
            "earlier_labels",
        ]

    def get_policy_categories(self, obj: ReviewItem) -> list[dict[str, str]]:
        return obj.decision.policy_version.categories

    @extend_schema_field(ReviewHistoryLabelSerializer(many=True))
    def get_earlier_labels(self, obj: ReviewItem) -> list[dict[str, Any]]:
        """The labels that disagreed, for the reviewer who settles an escalated item. Any other item
        shows none to the reviewer who holds it, so a second opinion stays independent of the first."""
        labels = review_labels_visible(
            item=obj, labels=decision_review_labels(decision=obj.decision), viewer_id=self.context.get("viewer")
        )
        return list(ReviewHistoryLabelSerializer(labels, many=True).data)


class ReviewNextApi(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(request=None, responses={200: ReviewItemOutputSerializer, 204: None})
    def post(self, request: Request) -> Response:
        item = review_claim_next(reviewer=_reviewer(request))
        if item is None:
            # Empty for this reviewer; say how many open items they skipped lately, which come back later.
            skipped = review_skipped_open_count(reviewer=_reviewer(request))
            return Response(status=status.HTTP_204_NO_CONTENT, headers={"X-Review-Skipped": str(skipped)})
        item = review_item_get(item_id=item.pk)
        return Response({"item": ReviewItemOutputSerializer(item, context={"viewer": request.user.pk}).data})


class ReviewLabelApi(APIView):
    permission_classes = [IsReviewer]

    class InputSerializer(serializers.Serializer[Any]):
        verdict = serializers.ChoiceField(choices=["safe", "unsafe"])
        categories = serializers.ListField(child=StringField(), required=False, default=list)
        rationale = StringField(required=False, allow_blank=True, default="", max_length=5000)

    class OutputSerializer(serializers.ModelSerializer[ReviewLabel]):
        reviewer: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
            slug_field="username", read_only=True
        )

        class Meta:
            model = ReviewLabel
            fields = ["id", "item", "reviewer", "verdict", "categories", "rationale", "created_at"]

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request: Request, item_id: int) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label = review_label(item=review_item_get(item_id=item_id), reviewer=_reviewer(request), **data.validated_data)
        return Response(self.OutputSerializer(label).data, status=status.HTTP_201_CREATED)


class ReviewReleaseApi(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(request=None, responses={200: ReviewItemOutputSerializer})
    def post(self, request: Request, item_id: int) -> Response:
        item = review_release(item=review_item_get(item_id=item_id), reviewer=_reviewer(request))
        return Response(ReviewItemOutputSerializer(item, context={"viewer": request.user.pk}).data)


class AnyStaffRole(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return any(cls().has_permission(request, view) for cls in RolePermission.__subclasses__())


class ReviewStatsApi(APIView):
    """The queue now, and since `since` (all time without it): agreement between reviewers, their
    escalations, and how often they overturn the guard."""

    permission_classes = [AnyStaffRole]

    class FilterSerializer(serializers.Serializer[Any]):
        since = serializers.DateTimeField(required=False, allow_null=True, default=None)

    @extend_schema(parameters=[FilterSerializer], responses={200: dict})
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return Response(review_stats(since=filters.validated_data["since"]))


class ReviewerStatsApi(APIView):
    """Each reviewer's figures since `since` (all time without it). An administrator sees every
    reviewer; anyone else with the reviewer role sees their own figures only."""

    permission_classes = [IsReviewer]

    class FilterSerializer(serializers.Serializer[Any]):
        since = serializers.DateTimeField(required=False, allow_null=True, default=None)

    class OutputSerializer(serializers.Serializer[Any]):
        class ReviewerSerializer(serializers.Serializer[Any]):
            id = serializers.IntegerField()
            username = serializers.CharField()

        class RateSerializer(serializers.Serializer[Any]):
            agreed = serializers.IntegerField()
            agreement_rate = serializers.FloatField(allow_null=True)

        class GuardSerializer(RateSerializer):
            compared = serializers.IntegerField(help_text="Labels on decisions with a guard verdict (not malformed).")

        class PairSerializer(RateSerializer):
            paired = serializers.IntegerField(help_text="Labels with a second, independent label beside them.")

        class EscalationSerializer(serializers.Serializer[Any]):
            settled = serializers.IntegerField(help_text="Escalations this reviewer's label settled.")
            upheld = serializers.IntegerField(help_text="Disagreements this reviewer was in, settled their way.")
            overruled = serializers.IntegerField(help_text="Of those, settled the other way.")

        reviewer = ReviewerSerializer()
        labels = serializers.IntegerField()
        unsafe_rate = serializers.FloatField(allow_null=True)
        mean_handle_s = serializers.FloatField(allow_null=True, help_text="Mean seconds from claim to label.")
        guard = GuardSerializer()
        second_opinions = PairSerializer()
        escalations = EscalationSerializer()

    @extend_schema(parameters=[FilterSerializer], responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        user = _reviewer(request)
        rows = review_reviewer_stats(
            since=filters.validated_data["since"], reviewer_id=None if user.is_superuser else user.pk
        )
        return Response(self.OutputSerializer(rows, many=True).data)


class CaseOutputSerializer(serializers.ModelSerializer[Case]):
    policy = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "source",
            "messages",
            "target",
            "verdict",
            "categories",
            "rationale",
            "policy",
            "decision",
            "external_id",
            "metadata",
            "split",
            "created_at",
        ]

    def get_policy(self, obj: Case) -> dict[str, Any] | None:
        version = obj.policy_version
        return {"slug": version.policy.slug, "version": version.number} if version else None


class CaseListApi(APIView):
    permission_classes = [AnyStaffRole]

    class FilterSerializer(serializers.Serializer[Any]):
        split = serializers.ChoiceField(choices=Case.Split.choices, required=False)
        source = serializers.ChoiceField(choices=Case.Source.choices, required=False)  # type: ignore[assignment]
        verdict = serializers.ChoiceField(choices=["safe", "unsafe"], required=False)

    @extend_schema(parameters=[FilterSerializer], responses={200: CaseOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = StrictLimitOffsetPagination()
        page = paginator.paginate_queryset(case_list(filters=filters.validated_data), request, view=self)
        response: Response = paginator.get_paginated_response(CaseOutputSerializer(page, many=True).data)
        return response


class CaseImportApi(APIView):
    """Upload a CSV or JSONL file (multipart field `file`); all rows are imported or none."""

    permission_classes = [AnyStaffRole]
    parser_classes = [MultiPartParser, JSONParser]

    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField()
        format = serializers.ChoiceField(choices=["csv", "jsonl"], required=False)
        policy = serializers.SlugField(required=False, help_text="Check categories against its published version.")

    @extend_schema(request={"multipart/form-data": InputSerializer}, responses={201: dict})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        fmt = data.validated_data.get("format") or ("jsonl" if upload.name.endswith((".jsonl", ".ndjson")) else "csv")
        try:
            content = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ApiError(code="invalid", message="file: not UTF-8 text") from exc
        version = case_import_version(slug=data.validated_data.get("policy"))
        report = cases_import(rows=parse_case_rows(content=content, fmt=fmt), policy_version=version)
        return Response(
            {"imported": report.imported, "duplicates": report.duplicates, "total": report.total},
            status=status.HTTP_201_CREATED,
        )


class CaseExportApi(APIView):
    permission_classes = [AnyStaffRole]

    @extend_schema(responses={(200, "application/x-ndjson"): str})
    def get(self, request: Request) -> StreamingHttpResponse:
        cases = first_chunk_read(cases_for_export())
        response = StreamingHttpResponse(
            (case_export_line(case) + "\n" for case in cases), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = 'attachment; filename="cases.jsonl"'
        return response

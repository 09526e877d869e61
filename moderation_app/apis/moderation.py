"""The moderation API: `POST /api/v1/moderate` and the decisions it records."""

from __future__ import annotations

import contextlib
import functools
import json
import time
from typing import Any

from celery.result import AsyncResult
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.actors import request_actor
from config.celery import app
from config.errors import ApiError
from config.fields import JsonBooleanField, JsonIntegerField, MetadataField, SlugStringField, StringField, TextField
from config.pagination import PAGE_PARAMETERS, first_chunk_read, page_schema, paged_response
from moderation_app.answers import AnswerListUnavailable, decision_answer_key, decision_answer_pop
from moderation_app.apis.decision_csv import CsvRenderer, decisions_csv_lines
from moderation_app.authentication import rate_limit_items
from moderation_app.metrics import MODERATION_REQUESTS, MODERATION_WAIT
from moderation_app.models import MESSAGE_ROLES, ApiKey, Decision, ReviewLabel, WebhookDelivery
from moderation_app.roles import user_roles
from moderation_app.selectors import (
    decision_get,
    decision_review_labels,
    decision_summaries,
    decisions_for_export,
    decisions_get_many,
    review_labels_visible,
)
from moderation_app.services import (
    ModerationInput,
    decision_record,
    decisions_defer,
    decisions_enqueue_batch,
    decisions_persist,
)
from moderation_app.services.webhooks import webhook_delivery_retry
from policies_app.models import PolicyVersion
from policies_app.selectors import policy_get_for_judging, policy_version_get
from training_worker.presence import GuardAbsent, guard_wait_slices


class MessageSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=MESSAGE_ROLES)
    content = TextField()


class DecisionOutputSerializer(serializers.ModelSerializer[Decision]):
    verdict = serializers.SerializerMethodField()
    policy = serializers.SerializerMethodField()
    model = serializers.SerializerMethodField()
    review = serializers.SerializerMethodField()
    latency_ms = serializers.FloatField(read_only=True)

    class Meta:
        model = Decision
        fields = [
            "id",
            "status",
            "flagged",
            "verdict",
            "malformed",
            "content_truncated",
            "categories",
            "category_scores",
            "score",
            "reasoning",
            "policy",
            "model",
            "review",
            "target",
            "reasoning_mode",
            "external_id",
            "metadata",
            "error",
            "latency_ms",
            "queue_ms",
            "inference_ms",
            "created_at",
            "completed_at",
        ]

    def get_verdict(self, obj: Decision) -> str | None:
        return obj.verdict or None

    def get_policy(self, obj: Decision) -> dict[str, Any]:
        version = obj.policy_version
        return {"slug": version.policy.slug, "version": version.number, "sha256": version.sha256}

    def get_model(self, obj: Decision) -> dict[str, Any] | None:
        model = obj.model_version
        return {"id": model.pk, "name": model.name, "template_version": obj.template_version} if model else None

    def get_review(self, obj: Decision) -> dict[str, Any] | None:
        item = getattr(obj, "review_item", None)
        return {"status": item.current_status, "reason": item.reason} if item else None


def decision_answer(decision: Decision) -> dict[str, Any]:
    """A decision as the moderation API answers it (the guard task renders it too, for a waiting caller)."""
    return dict(_answer_serializer().to_representation(decision))


@functools.cache
def _answer_serializer() -> DecisionOutputSerializer:
    """One serializer, its fields built once, renders every single answer.

    A new ModelSerializer builds its fields from the model on first use, which was 0.4 ms of a
    0.43 ms answer; rendering itself keeps no state on the serializer, so threads can share it.
    """
    serializer = DecisionOutputSerializer()
    serializer.fields  # noqa: B018 - built now, not by two threads at once later
    return serializer


class WebhookDeliveryOutputSerializer(serializers.ModelSerializer[WebhookDelivery]):
    next_attempt_at = serializers.DateTimeField(read_only=True, allow_null=True)
    in_flight = serializers.SerializerMethodField()

    class Meta:
        model = WebhookDelivery
        fields = [
            "status",
            "attempts",
            "last_status_code",
            "last_error",
            "delivered_at",
            "next_attempt_at",
            "in_flight",
        ]

    def get_in_flight(self, obj: WebhookDelivery) -> bool:
        """Whether an attempt is being made now (pending, with no next attempt to wait for)."""
        return obj.status == WebhookDelivery.Status.PENDING and obj.next_attempt_at is None


class DecisionDetailOutputSerializer(DecisionOutputSerializer):
    webhook = serializers.SerializerMethodField()

    class Meta(DecisionOutputSerializer.Meta):
        fields = [*DecisionOutputSerializer.Meta.fields, "messages", "raw_output", "template_version", "webhook"]

    @extend_schema_field(WebhookDeliveryOutputSerializer(allow_null=True))
    def get_webhook(self, obj: Decision) -> dict[str, Any] | None:
        """The callback of a decision requested with async=true: delivered, pending, failed or skipped."""
        delivery = getattr(obj, "webhook", None) if obj.callback else None
        return dict(WebhookDeliveryOutputSerializer(delivery).data) if delivery is not None else None


class ReviewHistoryLabelSerializer(serializers.ModelSerializer[ReviewLabel]):
    reviewer: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ReviewLabel
        fields = ["id", "reviewer", "verdict", "categories", "rationale", "created_at"]


@functools.cache
def _detail_serializer() -> DecisionDetailOutputSerializer:
    """One serializer, its fields built once, renders the detail a service polls (see `_answer_serializer`)."""
    serializer = DecisionDetailOutputSerializer()
    serializer.fields  # noqa: B018 - built now, not by two threads at once later
    return serializer


class DecisionAuditOutputSerializer(DecisionDetailOutputSerializer):
    """The detail as staff see it on the audit page: with the review history. Review items nest the
    plain detail instead, so a second reviewer never sees the first one's label."""

    review_history = serializers.SerializerMethodField()

    class Meta(DecisionDetailOutputSerializer.Meta):
        fields = [*DecisionDetailOutputSerializer.Meta.fields, "review_history"]

    def get_review_history(self, obj: Decision) -> dict[str, Any] | None:
        item = getattr(obj, "review_item", None)
        if item is None:
            return None
        given = decision_review_labels(decision=obj)
        labels = review_labels_visible(item=item, labels=given, viewer_id=self.context.get("viewer"))
        return {
            "status": item.current_status,
            "reason": item.reason,
            "priority": item.priority,
            "labels_needed": item.labels_needed,
            "labels_given": len(given),  # how many, shown to all, while the labels themselves may be hidden
            "escalated_at": item.escalated_at,
            "queued_at": item.created_at,
            "done_at": item.done_at,
            "labels": ReviewHistoryLabelSerializer(labels, many=True).data,
        }


def caller_key(request: Request) -> ApiKey | None:
    return request.auth if isinstance(request.auth, ApiKey) else None


def _decision_scope(request: Request) -> ApiKey | None:
    """Staff with any role see every decision; an API key sees its own; anyone else gets 403."""
    if user_roles(request.user):
        return None
    key = caller_key(request)
    if key is None:
        raise ApiError(code="permission_denied", message="Your account lacks the role this needs.", status_code=403)
    return key


class AsyncFieldSerializer(serializers.Serializer[Any]):
    # The body's `async`, read into `validated_data["async_"]`: a Python keyword cannot name the field
    # in the class body, and the name the caller sent is the one errors and the schema show.

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["async"] = JsonBooleanField(required=False, default=False, source="async_")
        return fields


class ModerateItemSerializer(serializers.Serializer[Any]):
    """One item to judge: the body of a single call without `async`, and an item of a batch."""

    policy = SlugStringField(required=False, help_text="Default: the API key's policy.")
    policy_version = JsonIntegerField(min_value=1, required=False, help_text="Default: the published one.")
    input = TextField(required=False)
    messages = MessageSerializer(many=True, required=False, allow_empty=False)
    target = serializers.ChoiceField(choices=["prompt", "response"], required=False)
    reasoning = serializers.ChoiceField(choices=["full", "none"], default="full")
    external_id = StringField(max_length=200, required=False, allow_blank=True, default="")
    metadata = MetadataField(required=False, default=dict)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return validate_conversation(attrs)


class ModerateInputSerializer(AsyncFieldSerializer, ModerateItemSerializer):
    pass


def validate_conversation(attrs: dict[str, Any]) -> dict[str, Any]:
    """`input` xor `messages` becomes `messages`; `target` is inferred from, and checked against, the last one."""
    has_input, has_messages = "input" in attrs, "messages" in attrs
    if has_input == has_messages:
        raise serializers.ValidationError({"input": "give either `input` or `messages`, not both or neither"})
    if has_input:
        attrs["messages"] = [{"role": "user", "content": attrs.pop("input")}]
    messages = attrs["messages"] = [dict(m) for m in attrs["messages"]]
    target = attrs.get("target") or ("response" if messages[-1]["role"] == "assistant" else "prompt")
    wanted = "assistant" if target == "response" else "user"
    if messages[-1]["role"] != wanted:
        raise serializers.ValidationError(
            {"target": f"target '{target}' judges the last message, which must be from the {wanted}"}
        )
    attrs["target"] = target
    return attrs


class ModerateApi(APIView):
    InputSerializer = ModerateInputSerializer

    @extend_schema(
        request=InputSerializer,
        responses={200: DecisionOutputSerializer, 202: DecisionOutputSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        check_size(body)
        decision, created = record_from_body(
            request,
            body,
            idempotency_key=idempotency_key(request),
            callback=body["async_"],
            answer=not body["async_"],
        )
        if body["async_"]:
            return Response({"id": str(decision.id), "status": decision.status}, status=status.HTTP_202_ACCEPTED)
        # The guard task of a decision this call recorded answers it on its own list, if there is one.
        answer_to = decision_answer_key(decision_id=decision.pk) if created else None
        return Response(wait_for_answer(decision, answer_to=answer_to))


IDEMPOTENCY_KEY_MAX = 200


def idempotency_key(request: Request) -> str:
    """The request's `Idempotency-Key`, or "". One longer than a decision stores is a 400: cut short,
    two keys that share their start would name the same decision."""
    key = request.headers.get("Idempotency-Key", "")
    if len(key) > IDEMPOTENCY_KEY_MAX:
        message = f"Idempotency-Key is {len(key):,} characters; the limit is {IDEMPOTENCY_KEY_MAX}"
        raise ApiError(
            code="invalid",
            message=message,
            errors=[{"field": "Idempotency-Key", "message": message, "code": "max_length"}],
        )
    return key


def check_size(body: dict[str, Any]) -> None:
    count = len(body["messages"])
    if count > settings.MODERATION_MAX_MESSAGES:
        raise ApiError(
            code="too_large",
            message=f"the conversation has {count:,} messages; the limit is {settings.MODERATION_MAX_MESSAGES:,}",
            status_code=413,
        )
    size = sum(len(m["content"]) for m in body["messages"])
    if size > settings.MODERATION_MAX_CHARS:
        raise ApiError(
            code="too_large",
            message=f"the content is {size:,} characters; the limit is {settings.MODERATION_MAX_CHARS:,}",
            status_code=413,
        )


def record_from_body(
    request: Request,
    body: dict[str, Any],
    *,
    idempotency_key: str = "",
    callback: bool = False,
    enqueue: bool = True,
    answer: bool = False,
) -> tuple[Decision, bool]:
    """The body's decision, and whether this call recorded it (else an earlier one with its Idempotency-Key did)."""
    key = caller_key(request)
    version = resolve_policy_version(slug=body.get("policy"), number=body.get("policy_version"), key=key)
    return decision_record(
        api_key=key,
        actor=request_actor(request.user),
        policy_version=version,
        request=ModerationInput(
            messages=[dict(m) for m in body["messages"]],
            target=body["target"],
            reasoning=body["reasoning"],
            external_id=body["external_id"],
            metadata=body["metadata"],
        ),
        idempotency_key=idempotency_key,
        callback=callback,
        enqueue=enqueue,
        answer=answer,
    )


class ModerateBatchApi(APIView):
    """Up to MODERATION_MAX_BATCH items, one decision each, answered in order. Every item is
    validated before any is recorded, so a bad item rejects the batch and stores nothing."""

    class InputSerializer(AsyncFieldSerializer):
        items = ModerateItemSerializer(many=True, allow_empty=False)

        def validate_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if len(items) > settings.MODERATION_MAX_BATCH:
                raise serializers.ValidationError(f"at most {settings.MODERATION_MAX_BATCH} items per batch")
            return items

    class OutputSerializer(serializers.Serializer[Any]):
        results = DecisionOutputSerializer(many=True, help_text="One decision per item, in order.")

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer, 202: OutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        items = data.validated_data["items"]
        rate_limit_items(request, items=len(items))
        for item in items:
            check_size(item)
            resolve_policy_version(slug=item.get("policy"), number=item.get("policy_version"), key=caller_key(request))
        with transaction.atomic():
            decisions = [
                record_from_body(request, item, callback=data.validated_data["async_"], enqueue=False)[0]
                for item in items
            ]
            task_id = decisions_enqueue_batch(decisions=decisions, waited_for=not data.validated_data["async_"])
        if data.validated_data["async_"]:
            return Response(
                {"results": [{"id": str(d.id), "status": d.status} for d in decisions]},
                status=status.HTTP_202_ACCEPTED,
            )
        decisions = wait_for_decisions(decisions, task_ids=[task_id])
        return Response({"results": DecisionOutputSerializer(decisions, many=True).data})


def resolve_policy_version(*, slug: str | None, number: int | None, key: ApiKey | None) -> PolicyVersion:
    """The named policy (or the key's) at the pinned version, or else its published one."""
    slug = slug or (key.policy.slug if key and key.policy else None)
    if slug is None:
        raise ApiError(code="invalid", message="policy: name a policy (this API key has no default policy)")
    # The key's own policy was read with the key, in this request.
    policy = key.policy if key and key.policy and key.policy.slug == slug else policy_get_for_judging(slug=slug)
    if number:
        return policy_version_get(policy=policy, number=number)
    if policy.published_version is None:
        raise ApiError(
            code="not_published",
            message=f"policy '{slug}' has no published version; publish one or pin policy_version",
            status_code=409,
        )
    return policy.published_version


# Only result backends that poll use it (the embedded file backend); Redis pushes the result at once.
RESULT_POLL_INTERVAL_S = 0.01


def wait_for_answer(decision: Decision, *, answer_to: str | None = None) -> dict[str, Any]:
    """The answer to a synchronous call, waiting up to GUARD_TIMEOUT_S (503 with Retry-After after,
    or as soon as no guard worker can judge).

    The guard task of a call that waits returns the decision as `decision_answer` renders it, so
    the answer needs no second read of the row; with `answer_to` it also pushes it there, the
    shorter way (moderation_app.answers). Anything else (a repeated Idempotency-Key whose first
    call did not wait, a timeout, a failed task) reads the row back.
    """
    deadline = time.monotonic() + settings.GUARD_TIMEOUT_S
    absent: str | None = None
    if decision.status == Decision.Status.PENDING:
        started = time.perf_counter()
        try:
            answer = _awaited_answer(str(decision.id), answer_to=answer_to, deadline=deadline)
        except GuardAbsent as exc:
            absent = str(exc)  # the row says whether it was judged after all
        else:
            if isinstance(answer, dict):
                MODERATION_WAIT.observe(time.perf_counter() - started)
                _count_verdicts([answer["verdict"]])
                return answer
    (decision,) = wait_for_decisions([decision], deadline=deadline, absent=absent)
    return decision_answer(decision)


def _awaited_answer(task_id: str, *, answer_to: str | None, deadline: float) -> Any:
    """What the guard task answers, from its list while there is one, else from its result; None
    by the deadline. Raises `GuardAbsent` (see `guard_wait_slices`)."""
    for until in guard_wait_slices(deadline=deadline):
        if answer_to is not None:
            try:
                answer = decision_answer_pop(key=answer_to, timeout_s=until - time.monotonic())
            except AnswerListUnavailable:
                answer_to = None
            else:
                if answer is not None:
                    return answer
                continue
        if (answer := _task_result(task_id, until)) is not None:
            return answer
    return _task_result(task_id, deadline)  # the push can fail where the result is stored


def _task_result(task_id: str, deadline: float) -> Any:
    """The guard task's return value, or None if it did not come by the deadline."""
    # A timeout or a result-backend hiccup is not an error here: the decision row is the truth.
    with contextlib.suppress(Exception):
        return AsyncResult(task_id, app=app).get(
            timeout=max(deadline - time.monotonic(), 0.01), interval=RESULT_POLL_INTERVAL_S, propagate=False
        )
    return None


def wait_for_decisions(
    decisions: list[Decision],
    *,
    task_ids: list[str] | None = None,
    deadline: float | None = None,
    absent: str | None = None,
) -> list[Decision]:
    """Wait until `deadline` (default: GUARD_TIMEOUT_S from now) for the guard; 503 with Retry-After if
    any is still pending, or as soon as no guard worker can judge (`absent`: known already to be so).

    The guard tasks are the decisions' own (task id = decision id) unless `task_ids` names them.
    """
    deadline = time.monotonic() + settings.GUARD_TIMEOUT_S if deadline is None else deadline
    started = time.perf_counter()
    if absent is None and any(d.status == Decision.Status.PENDING for d in decisions):
        pending_ids = [str(d.id) for d in decisions if d.status == Decision.Status.PENDING]
        try:
            for task_id in task_ids if task_ids is not None else pending_ids:
                _wait_for_task(task_id, deadline)
        except GuardAbsent as exc:
            absent = str(exc)
    asked = len(decisions)
    decisions = decisions_get_many(ids=[d.pk for d in decisions])
    MODERATION_WAIT.observe(time.perf_counter() - started)
    if len(decisions) < asked:  # a database that crashed before a synchronous call's INSERT was flushed
        raise ApiError(
            code="decision_lost",
            message="the database lost this request before the guard judged it; send it again",
            status_code=503,
            headers={"Retry-After": "5"},
        )
    pending = [str(d.id) for d in decisions if d.status == Decision.Status.PENDING]
    if pending and absent is not None:
        raise _guard_absent_error(pending, absent)
    if pending:
        decisions_persist(decision_ids=pending)  # before the answer says they are kept
        MODERATION_REQUESTS.labels("timeout").inc()
        raise ApiError(
            code="guard_timeout",
            message=(
                f"no guard worker answered within {settings.GUARD_TIMEOUT_S:g}s; decision {pending[0]} "
                "stays queued: GET /api/v1/decisions/{id}/ later"
            ),
            status_code=503,
            headers={"Retry-After": "5", "Location": f"/api/v1/decisions/{pending[0]}/"},
        )
    _count_verdicts([d.verdict for d in decisions])
    return decisions


def _wait_for_task(task_id: str, deadline: float) -> None:
    for until in guard_wait_slices(deadline=deadline):
        if _task_result(task_id, until) is not None:
            return


def _guard_absent_error(decision_ids: list[str], reason: str) -> ApiError:
    MODERATION_REQUESTS.labels("unavailable").inc()
    return decisions_defer(decision_ids=decision_ids, why=reason)


def _count_verdicts(verdicts: list[str | None]) -> None:
    for verdict in verdicts:
        MODERATION_REQUESTS.labels(verdict or "malformed").inc()


class DecisionListApi(APIView):
    class FilterSerializer(serializers.Serializer[Any]):
        verdict = serializers.ChoiceField(choices=["safe", "unsafe"], required=False)
        policy = serializers.SlugField(required=False)
        version = serializers.IntegerField(min_value=1, required=False)
        category = serializers.CharField(required=False, help_text="A category code; codes are upper case.")
        flagged = serializers.BooleanField(required=False, allow_null=True, default=None)
        malformed = serializers.BooleanField(
            required=False, allow_null=True, default=None, help_text="Outputs the guard's parser refused."
        )
        status = serializers.ChoiceField(choices=Decision.Status.choices, required=False)
        api_key = serializers.CharField(required=False, help_text="An API key's prefix.")
        webhook = serializers.ChoiceField(
            choices=WebhookDelivery.Status.choices, required=False, help_text="The callback's delivery status."
        )
        since = serializers.DateTimeField(required=False)
        until = serializers.DateTimeField(required=False)

        def validate_category(self, value: str) -> str:
            # Policy codes are upper case (policies_app.spec.CODE_PATTERN): `s1` means S1, not nothing.
            return value.strip().upper()

    @extend_schema(
        operation_id="api_v1_decisions_list",
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: page_schema(name="DecisionPage", item=DecisionOutputSerializer)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        decisions = decision_summaries(api_key=_decision_scope(request), filters=filters.validated_data)
        return paged_response(
            rows=decisions,
            request=request,
            view=self,
            serializer=DecisionOutputSerializer,
            count_cap=settings.DECISION_LIST_COUNT_CAP,
        )


class DecisionExportApi(APIView):
    """The filtered decisions, newest first: JSONL (one decision with its messages and raw output per
    line), or CSV with `?format=csv` (the audit page's columns)."""

    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        parameters=[
            DecisionListApi.FilterSerializer,
            OpenApiParameter("format", str, enum=["json", "csv"], description="`csv` for CSV; JSONL otherwise."),
        ],
        responses={(200, "application/x-ndjson"): str, (200, "text/csv"): str},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        filters = DecisionListApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        chunks = decisions_for_export(api_key=_decision_scope(request), filters=filters.validated_data)
        decisions = first_chunk_read(chunks)
        if request.accepted_renderer.format == CsvRenderer.format:
            lines = decisions_csv_lines(decisions=decisions)
            response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="decisions-{timezone.localdate()}.csv"'
            return response
        # One serializer for every line: a new one builds its fields from the model each time.
        serializer = DecisionDetailOutputSerializer()
        lines = (json.dumps(serializer.to_representation(d), cls=DjangoJSONEncoder) + "\n" for d in decisions)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = 'attachment; filename="decisions.jsonl"'
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # An error is JSON whichever format was asked for: the audit page's link would otherwise save
        # the error under a .csv name.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class DecisionWebhookRetryApi(APIView):
    """Try a decision's failed webhook again (a service its own decisions, staff any)."""

    @extend_schema(request=None, responses={202: WebhookDeliveryOutputSerializer})
    def post(self, request: Request, decision_id: str) -> Response:
        decision = decision_get(decision_id=decision_id, api_key=_decision_scope(request))
        delivery = webhook_delivery_retry(decision=decision)
        return Response(WebhookDeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DecisionDetailApi(APIView):
    @extend_schema(responses={200: DecisionAuditOutputSerializer})
    def get(self, request: Request, decision_id: str) -> Response:
        key = _decision_scope(request)
        decision = decision_get(decision_id=decision_id, api_key=key)
        # Reviewers' names and rationales are for staff; a service sees the decision only.
        if key:
            return Response(_detail_serializer().to_representation(decision))
        return Response(DecisionAuditOutputSerializer(decision, context={"viewer": request.user.pk}).data)

"""Staff sign-in and API-key management."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.middleware.csrf import get_token
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.actors import request_actor
from config.errors import ApiError, found_or_404
from moderation_app.authentication import LoginRateThrottle, ServicePrincipal
from moderation_app.models import ApiKey, ApiKeyEvent
from moderation_app.roles import IsAdmin, user_roles
from moderation_app.selectors import api_key_events, api_key_list
from moderation_app.services import api_key_create, api_key_revoke, api_key_rotate_webhook_secret, api_key_update
from moderation_app.services.accounts import RATE_LIMIT_MAX, WEBHOOK_URL_MAX
from moderation_app.services.webhooks import webhook_url_problem
from policies_app.models import Policy


class UserOutputSerializer(serializers.Serializer[Any]):
    username = serializers.CharField()
    email = serializers.CharField()
    roles = serializers.ListField(child=serializers.CharField())
    is_superuser = serializers.BooleanField()


def _user_payload(user: Any) -> dict[str, Any]:
    return {
        "username": user.username,
        "email": user.email,
        "roles": user_roles(user),
        "is_superuser": user.is_superuser,
    }


class LoginApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes = [LoginRateThrottle]

    class InputSerializer(serializers.Serializer[Any]):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema(request=InputSerializer, responses={200: UserOutputSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request._request, **data.validated_data)
        if user is None:
            raise ApiError(code="invalid_credentials", message="Wrong username or password.")
        login(request._request, user)
        get_token(request._request)  # sets the csrftoken cookie the web app sends back
        return Response(UserOutputSerializer(_user_payload(user)).data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    class ApiKeyOutputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField()
        prefix = serializers.CharField()
        policy = serializers.CharField(allow_null=True)
        rate_limit_per_minute = serializers.IntegerField()

    @extend_schema(responses={200: UserOutputSerializer})
    def get(self, request: Request) -> Response:
        if isinstance(request.user, ServicePrincipal):
            key = request.user.api_key
            payload = {
                "name": key.name,
                "prefix": key.prefix,
                "policy": key.policy.slug if key.policy else None,
                "rate_limit_per_minute": key.rate_limit_per_minute,
            }
            return Response({"api_key": self.ApiKeyOutputSerializer(payload).data})
        get_token(request._request)
        return Response(UserOutputSerializer(_user_payload(request.user)).data)


class ApiKeyOutputSerializer(serializers.ModelSerializer[ApiKey]):
    policy: serializers.SlugRelatedField[Policy] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "prefix",
            "name",
            "policy",
            "rate_limit_per_minute",
            "webhook_url",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
        ]


class _WebhookUrlField(serializers.URLField):
    """A webhook URL checked as the service checks it, so every field's error comes in one answer."""

    def to_internal_value(self, data: Any) -> str:
        url = super().to_internal_value(data)
        problem = webhook_url_problem(url) if url else None
        if problem is not None:
            raise serializers.ValidationError(problem)
        return url


def _policy_field() -> serializers.SlugRelatedField[Policy]:
    return serializers.SlugRelatedField(
        slug_field="slug", queryset=Policy.objects.all(), required=False, allow_null=True
    )


class ApiKeyListCreateApi(APIView):
    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=100)
        policy = _policy_field()
        rate_limit_per_minute = serializers.IntegerField(min_value=1, max_value=RATE_LIMIT_MAX, required=False)
        webhook_url = _WebhookUrlField(max_length=WEBHOOK_URL_MAX, required=False, allow_blank=True, default="")

    @extend_schema(responses={200: ApiKeyOutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(ApiKeyOutputSerializer(api_key_list(), many=True).data)

    @extend_schema(request=InputSerializer, responses={201: ApiKeyOutputSerializer})
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, token = api_key_create(
            name=data.validated_data["name"],
            policy=data.validated_data.get("policy"),
            rate_limit_per_minute=data.validated_data.get("rate_limit_per_minute"),
            webhook_url=data.validated_data["webhook_url"],
            actor=request_actor(request.user),
        )
        # The only answer that ever contains the secrets.
        secrets_once = {"key": token, "webhook_secret": key.webhook_secret or None}
        return Response({**ApiKeyOutputSerializer(key).data, **secrets_once}, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: ApiKeyOutputSerializer})
    def post(self, request: Request, prefix: str) -> Response:
        return Response(
            ApiKeyOutputSerializer(api_key_revoke(api_key=_key(prefix), actor=request_actor(request.user))).data
        )


class ApiKeyUpdateApi(APIView):
    """Change a key's name, default policy, rate limit or webhook; fields left out stay as they are.
    A key that gains a webhook gets its signing secret in this answer only."""

    permission_classes = [IsAdmin]

    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=100, required=False)
        policy = _policy_field()
        rate_limit_per_minute = serializers.IntegerField(min_value=1, max_value=RATE_LIMIT_MAX, required=False)
        webhook_url = _WebhookUrlField(max_length=WEBHOOK_URL_MAX, required=False, allow_blank=True)

    @extend_schema(request=InputSerializer, responses={200: ApiKeyOutputSerializer})
    def patch(self, request: Request, prefix: str) -> Response:
        key = _key(prefix)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, secret = api_key_update(api_key=key, actor=request_actor(request.user), **data.validated_data)
        return Response({**ApiKeyOutputSerializer(key).data, **({"webhook_secret": secret} if secret else {})})


class ApiKeyRotateWebhookSecretApi(APIView):
    """A new secret for the key's webhook signatures, shown in this answer only."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses={200: ApiKeyOutputSerializer})
    def post(self, request: Request, prefix: str) -> Response:
        key, secret = api_key_rotate_webhook_secret(api_key=_key(prefix), actor=request_actor(request.user))
        return Response({**ApiKeyOutputSerializer(key).data, "webhook_secret": secret})


class ApiKeyEventListApi(APIView):
    """The key's audit trail, newest first: made, changed (each field's old and new value), webhook
    secret rotated, revoked, and by whom (null for the command line)."""

    permission_classes = [IsAdmin]

    class OutputSerializer(serializers.ModelSerializer[ApiKeyEvent]):
        actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

        class Meta:
            model = ApiKeyEvent
            fields = ["kind", "actor", "changes", "created_at"]

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request: Request, prefix: str) -> Response:
        return Response(self.OutputSerializer(api_key_events(api_key=_key(prefix)), many=True).data)


def _key(prefix: str) -> ApiKey:
    return found_or_404(ApiKey.objects.filter(prefix=prefix).first(), f"no API key with prefix '{prefix}'")

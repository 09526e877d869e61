"""API-key authentication (`Authorization: Bearer ak_...`) and the per-key rate limit."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from moderation_app.models import ApiKey
from moderation_app.ratelimit import rate_limit_hit
from moderation_app.selectors import api_key_get_by_token
from moderation_app.services import api_key_touch


class ServicePrincipal:
    """The `request.user` of a request made with an API key: authenticated, but holds no staff role."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key
        self.pk = None
        self.username = f"api-key:{api_key.prefix}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[ServicePrincipal, ApiKey] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; use 'Bearer <key>'.")
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        api_key = api_key_get_by_token(token=token)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_touch(api_key=api_key)
        return ServicePrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyRateThrottle(BaseThrottle):
    """Each key's own requests-per-minute limit (`ratelimit.py`); staff sessions are not limited here."""

    def __init__(self) -> None:
        self._wait = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        self._wait = rate_limit_hit(key=f"api_key:{request.auth.pk}", limit=request.auth.rate_limit_per_minute)
        return self._wait == 0

    def wait(self) -> float | None:
        return self._wait


class LoginRateThrottle(SimpleRateThrottle):
    """Slows password guessing: attempts per client address."""

    scope = "login"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

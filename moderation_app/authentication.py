"""API-key authentication (`Authorization: Bearer ak_...`) and the per-key rate limit.

Every moderation call needs both, so they share one round trip to Redis where the cache is Redis:
the key's cache entry and the request's count come back together (`key_cache_get_counting`). The
request is counted against the hash of the token it presents, not against the key its prefix names,
so a wrong secret never spends a real key's limit; an unknown token's counter is deleted again.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from config.errors import ApiError
from moderation_app.keycache import key_cache_get_counting
from moderation_app.models import ApiKey
from moderation_app.ratelimit import RateWindow, rate_limit_decide, rate_limit_hit, rate_limit_refund, rate_window
from moderation_app.selectors import (
    api_key_get_by_token,
    api_key_hash,
    api_key_load,
    api_key_match,
    api_key_token_prefix,
)
from moderation_app.services import api_key_touch

# Where authentication leaves the request's count for the throttle (a Request attribute), and how
# to take it back.
COUNTED = "_api_key_counted"
REFUND = "rate_limit_refund"


def rate_limit_subject(*, key_hash: str) -> str:
    """The rate counters' name for the key with this hash."""
    return f"api_key:{key_hash[:32]}"


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
        api_key = self._key_counting(request, token)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        api_key_touch(api_key=api_key)
        return ServicePrincipal(api_key), api_key

    def _key_counting(self, request: Request, token: str) -> ApiKey | None:
        """The token's key; its request counted too where one round trip can do both."""
        prefix = api_key_token_prefix(token)
        if prefix is None:
            return None
        token_hash = api_key_hash(token)
        window = rate_window(key=rate_limit_subject(key_hash=token_hash))
        read = key_cache_get_counting(prefix=prefix, window=window)
        if read is None:
            return api_key_get_by_token(token=token)
        cached, counts = read
        api_key = api_key_match(token_hash=token_hash, key=cached or api_key_load(prefix=prefix))
        if api_key is None:
            # No key has this counter: leave nothing behind (it expires anyway if this fails).
            with contextlib.suppress(Exception):
                cache.delete(window.current_key)
            return None
        setattr(request, COUNTED, (window, counts))
        # A call refused before its limit is checked (403) gives its count back (config.errors).
        setattr(request, REFUND, lambda: rate_limit_refund(window=window))
        return api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyRateThrottle(BaseThrottle):
    """Each key's own requests-per-minute limit (`ratelimit.py`); staff sessions are not limited here."""

    def __init__(self) -> None:
        self._wait = 0.0

    def allow_request(self, request: Request, view: Any) -> bool:
        if not isinstance(request.auth, ApiKey):
            return True
        limit = request.auth.rate_limit_per_minute
        counted: tuple[RateWindow, tuple[int, int]] | None = getattr(request, COUNTED, None)
        if counted is None:
            self._wait = rate_limit_hit(key=rate_limit_subject(key_hash=request.auth.key_hash), limit=limit)
        else:
            window, (current, previous) = counted
            self._wait = rate_limit_decide(window=window, current=current, previous=previous, limit=limit)
        return self._wait == 0

    def wait(self) -> float | None:
        return self._wait


class LoginRateThrottle(SimpleRateThrottle):
    """Slows password guessing: attempts per client address."""

    scope = "login"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def rate_limit_items(request: Request, *, items: int) -> None:
    """Count a call's items past its first (a batch's, a list input's) against its key's limit: the
    call was counted as one, and a batch of 32 would otherwise cost what one item does. A 429 with
    Retry-After when they do not fit now; a 413 when they never can."""
    key = request.auth
    if not isinstance(key, ApiKey) or items <= 1:
        return
    limit = key.rate_limit_per_minute
    if items > limit:
        raise ApiError(
            code="too_large",
            message=f"{items} items in one call; this API key's rate limit is {limit} a minute",
            status_code=413,
        )
    wait = rate_limit_hit(key=rate_limit_subject(key_hash=key.key_hash), limit=limit, cost=items - 1)
    if wait:
        raise exceptions.Throttled(wait=wait)

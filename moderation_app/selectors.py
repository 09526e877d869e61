from __future__ import annotations

import hashlib
import hmac

from django.db.models import QuerySet

from moderation_app.models import ApiKey

KEY_PREFIX = "ak_"


def api_key_hash(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def api_key_get_by_token(*, token: str) -> ApiKey | None:
    """The active key a presented token belongs to, or None. Format: ak_<prefix>_<secret>."""
    if not token.startswith(KEY_PREFIX) or token.count("_") < 2:
        return None
    prefix = token[len(KEY_PREFIX) :].split("_", 1)[0]
    key = ApiKey.objects.select_related("policy").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, api_key_hash(token)):
        return None
    return key


def api_key_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("policy", "created_by").order_by("-created_at")

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from config.errors import ApiError
from moderation_app.models import ApiKey, Decision

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


def decision_list(*, api_key: ApiKey | None, filters: dict[str, Any]) -> QuerySet[Decision]:
    """Decisions newest first; an API key sees only its own."""
    decisions = Decision.objects.select_related("policy_version__policy", "model_version", "api_key")
    if api_key is not None:
        decisions = decisions.filter(api_key=api_key)
    if filters.get("verdict"):
        decisions = decisions.filter(verdict=filters["verdict"])
    if filters.get("policy"):
        decisions = decisions.filter(policy_version__policy__slug=filters["policy"])
    if filters.get("version"):
        decisions = decisions.filter(policy_version__number=filters["version"])
    if filters.get("flagged") is not None:
        decisions = decisions.filter(flagged=filters["flagged"])
    if filters.get("category"):
        decisions = decisions.filter(categories__contains=[filters["category"]])
    if filters.get("status"):
        decisions = decisions.filter(status=filters["status"])
    if filters.get("api_key"):
        decisions = decisions.filter(api_key__prefix=filters["api_key"])
    if filters.get("since"):
        decisions = decisions.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        decisions = decisions.filter(created_at__lt=filters["until"])
    return decisions.order_by("-created_at")


def decision_get(*, decision_id: str, api_key: ApiKey | None) -> Decision:
    try:
        decision = decision_list(api_key=api_key, filters={}).filter(pk=decision_id).first()
    except ValidationError:  # not a UUID
        decision = None
    if decision is None:
        raise ApiError(code="not_found", message=f"no decision {decision_id}", status_code=404)
    return decision

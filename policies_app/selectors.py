from __future__ import annotations

from django.db.models import Max, QuerySet

from config.errors import ApiError
from policies_app.models import Policy


def policy_list() -> QuerySet[Policy]:
    return Policy.objects.select_related("published_version").annotate(latest_number=Max("versions__number"))


def policy_get(*, slug: str) -> Policy:
    policy = policy_list().filter(slug=slug).first()
    if policy is None:
        raise ApiError(code="not_found", message=f"no policy '{slug}'", status_code=404)
    return policy

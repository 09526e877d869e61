"""The OpenAPI document (/api/schema/, shown at /api/docs/): how components are named, how API keys
are described."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer: Any, direction: str) -> str:
        """A view's own nested serializer is named after the view too: every view has its
        `InputSerializer`, and components are named by class, so all of them were one component
        (the batch call's body was shown as the one that creates an API key)."""
        qualname: str = type(serializer).__qualname__
        return qualname.replace(".", "") if "." in qualname else super().get_serializer_name(serializer, direction)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "moderation_app.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key, sent as `Authorization: Bearer ak_...`: from `manage.py create_api_key`, or "
                "`POST /api/v1/api-keys/` by an admin."
            ),
        }

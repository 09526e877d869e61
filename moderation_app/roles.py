"""Staff roles are Django groups; a superuser holds every role."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

POLICY_EDITOR = "policy_editor"
REVIEWER = "reviewer"
ML_ENGINEER = "ml_engineer"
ROLES = (POLICY_EDITOR, REVIEWER, ML_ENGINEER)


def user_roles(user: Any) -> list[str]:
    if not getattr(user, "is_authenticated", False) or not hasattr(user, "groups"):
        return []
    if user.is_superuser:
        return list(ROLES)
    names = set(user.groups.filter(name__in=ROLES).values_list("name", flat=True))
    return [role for role in ROLES if role in names]


class RolePermission(BasePermission):
    """Allows staff holding `role`; API keys and other staff get 403."""

    role: str = ""
    message = "Your account lacks the role this needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        if self.role and self.role in user_roles(request.user):
            return True
        self.message = f"This needs the '{self.role}' role." if self.role else "Only administrators may do this."
        return False


class IsPolicyEditor(RolePermission):
    role = POLICY_EDITOR


class IsReviewer(RolePermission):
    role = REVIEWER


class IsMlEngineer(RolePermission):
    role = ML_ENGINEER


class IsAdmin(BasePermission):
    message = "Only administrators may do this."

    def has_permission(self, request: Request, view: Any) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

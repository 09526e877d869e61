"""Who did something, for audit fields: a staff user, or None for the system and for API keys."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User

Actor = User | None


def request_actor(user: Any) -> Actor:
    return user if isinstance(user, User) and user.is_authenticated else None

"""Serves the built single-page app's index.html for every client-side route."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def spa_index(request: HttpRequest) -> HttpResponse:
    index = settings.FRONTEND_DIST / "index.html"
    if not index.is_file():
        return HttpResponse(
            "The web app is not built. Run `make run` (or `make frontend`) to build frontend/dist.",
            status=503,
            content_type="text/plain",
        )
    response = HttpResponse(index.read_bytes(), content_type="text/html; charset=utf-8")
    # index.html names hashed assets; it must be re-read after every deploy.
    response["Cache-Control"] = "no-cache"
    return response

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import health, metrics, spa
from moderation_app.apis.openai_compat import OpenAIModerationsApi

handler400 = "config.errors.handler400"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include("moderation_app.urls")),
    path("api/v1/", include("policies_app.urls")),
    path("api/v1/", include("training_worker.urls")),
    path("v1/moderations", OpenAIModerationsApi.as_view(), name="openai-moderations"),
    path("admin/", admin.site.urls),
    # Everything else is a client-side route of the web app.
    re_path(r"^(?!api/|admin/|static/|assets/|v1/)(?:.*)$", spa.spa_index, name="spa"),
]

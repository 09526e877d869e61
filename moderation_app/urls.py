from __future__ import annotations

from django.urls import path

from moderation_app.apis import accounts, moderation, playground, review

urlpatterns = [
    path("auth/login", accounts.LoginApi.as_view(), name="auth-login"),
    path("auth/logout", accounts.LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", accounts.MeApi.as_view(), name="auth-me"),
    path("api-keys/", accounts.ApiKeyListCreateApi.as_view(), name="api-key-list"),
    path("api-keys/<str:prefix>/", accounts.ApiKeyUpdateApi.as_view(), name="api-key-detail"),
    path("api-keys/<str:prefix>/revoke/", accounts.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
    path("api-keys/<str:prefix>/events/", accounts.ApiKeyEventListApi.as_view(), name="api-key-events"),
    path(
        "api-keys/<str:prefix>/rotate-webhook-secret/",
        accounts.ApiKeyRotateWebhookSecretApi.as_view(),
        name="api-key-rotate-webhook-secret",
    ),
    path("moderate", moderation.ModerateApi.as_view(), name="moderate"),
    path("moderate/batch", moderation.ModerateBatchApi.as_view(), name="moderate-batch"),
    path("decisions/", moderation.DecisionListApi.as_view(), name="decision-list"),
    path("decisions/export/", moderation.DecisionExportApi.as_view(), name="decision-export"),
    path("decisions/<str:decision_id>/", moderation.DecisionDetailApi.as_view(), name="decision-detail"),
    path(
        "decisions/<str:decision_id>/webhook/retry/",
        moderation.DecisionWebhookRetryApi.as_view(),
        name="decision-webhook-retry",
    ),
    path("playground/", playground.PlaygroundApi.as_view(), name="playground"),
    path("review/next/", review.ReviewNextApi.as_view(), name="review-next"),
    path("review/items/<int:item_id>/label/", review.ReviewLabelApi.as_view(), name="review-label"),
    path("review/items/<int:item_id>/release/", review.ReviewReleaseApi.as_view(), name="review-release"),
    path("review/stats/", review.ReviewStatsApi.as_view(), name="review-stats"),
    path("review/stats/reviewers/", review.ReviewerStatsApi.as_view(), name="review-reviewer-stats"),
    path("cases/", review.CaseListApi.as_view(), name="case-list"),
    path("cases/import/", review.CaseImportApi.as_view(), name="case-import"),
    path("cases/export/", review.CaseExportApi.as_view(), name="case-export"),
]

from __future__ import annotations

from django.urls import path

from moderation_app import apis

urlpatterns = [
    path("auth/login", apis.LoginApi.as_view(), name="auth-login"),
    path("auth/logout", apis.LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", apis.MeApi.as_view(), name="auth-me"),
    path("api-keys/", apis.ApiKeyListCreateApi.as_view(), name="api-key-list"),
    path("api-keys/<str:prefix>/revoke/", apis.ApiKeyRevokeApi.as_view(), name="api-key-revoke"),
]

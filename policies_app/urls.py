from __future__ import annotations

from django.urls import path

from policies_app import apis

urlpatterns = [
    path("policies/", apis.PolicyListApi.as_view(), name="policy-list"),
    path("policies/<slug:slug>/", apis.PolicyDetailApi.as_view(), name="policy-detail"),
]

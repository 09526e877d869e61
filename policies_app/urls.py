from __future__ import annotations

from django.urls import path

from policies_app import apis

urlpatterns = [
    path("policies/", apis.PolicyListApi.as_view(), name="policy-list"),
    path("policies/validate/", apis.PolicyValidateApi.as_view(), name="policy-validate"),
    path("policies/schema/", apis.PolicySchemaApi.as_view(), name="policy-schema"),
    path("policies/<slug:slug>/", apis.PolicyDetailApi.as_view(), name="policy-detail"),
    path("policies/<slug:slug>/versions/", apis.PolicyVersionListApi.as_view(), name="policy-version-list"),
    path(
        "policies/<slug:slug>/versions/<int:number>/",
        apis.PolicyVersionDetailApi.as_view(),
        name="policy-version-detail",
    ),
    path(
        "policies/<slug:slug>/versions/<int:number>/publish/",
        apis.PolicyVersionPublishApi.as_view(),
        name="policy-version-publish",
    ),
    path(
        "policies/<slug:slug>/versions/<int:number>/test/",
        apis.PolicyTestRunListApi.as_view(),
        name="policy-version-test",
    ),
    path(
        "policies/<slug:slug>/versions/<int:number>/backtest/",
        apis.PolicyBacktestListApi.as_view(),
        name="policy-version-backtest",
    ),
    path("policy-backtests/<int:backtest_id>/", apis.PolicyBacktestDetailApi.as_view(), name="policy-backtest"),
    path("policy-test-runs/<int:run_id>/", apis.PolicyTestRunDetailApi.as_view(), name="policy-test-run"),
    path("policies/<slug:slug>/diff/", apis.PolicyDiffApi.as_view(), name="policy-diff"),
    path("policies/<slug:slug>/events/", apis.PolicyEventListApi.as_view(), name="policy-events"),
]

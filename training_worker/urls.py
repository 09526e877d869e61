from __future__ import annotations

from django.urls import path

from training_worker import apis

urlpatterns = [
    path("models/", apis.ModelListApi.as_view(), name="model-list"),
    path("models/<int:model_id>/activate/", apis.ModelActivateApi.as_view(), name="model-activate"),
    path("training-runs/", apis.TrainingRunListApi.as_view(), name="training-run-list"),
    path("training-runs/<int:run_id>/", apis.TrainingRunDetailApi.as_view(), name="training-run-detail"),
]

"""Celery tasks. Task modules must not import torch at import time: the web process imports them
to enqueue work. Model code is imported inside the task bodies, on the workers."""

from __future__ import annotations

from training_worker.tasks import guard, train

__all__ = ["guard", "train"]

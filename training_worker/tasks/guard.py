"""Tasks on the `guard` queue (see CELERY_TASK_ROUTES). Model code loads inside the task bodies."""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery import Task
from celery.signals import worker_ready
from django.conf import settings
from django.utils import timezone

from config.celery import app
from moderation_app.models import Decision
from moderation_app.selectors import case_sample
from moderation_app.services import decision_complete, decision_fail
from policies_app.models import PolicyBacktest, PolicyTestRun
from policies_app.services import Judgement, LabelledCase, policy_backtest_execute, policy_test_run_execute
from training_worker.guard.runtime import GuardUnavailable, get_runtime
from training_worker.guard.template import Message
from training_worker.guard.types import GuardRequest
from training_worker.selectors import model_version_active

POLICY_TEST_TIMEOUT_S = 600
BACKTEST_TIMEOUT_S = 3600
logger = logging.getLogger(__name__)


def _consumes_guard_queue(consumer: Any) -> bool:
    try:
        return "guard" in consumer.app.amqp.queues.consume_from
    except AttributeError:
        return False


@worker_ready.connect
def preload_guard_model(sender: Any = None, **kwargs: Any) -> None:
    """A guard worker loads the active model as it starts, so the first request does not wait for it
    and a model that cannot load shows in /readyz at once (the worker stays up either way)."""
    if not settings.GUARD_PRELOAD or not _consumes_guard_queue(sender):
        return

    def load() -> None:
        try:
            get_runtime().current()
        except GuardUnavailable as exc:
            logger.error("guard model not loaded: %s", exc)

    threading.Thread(target=load, name="guard-preload", daemon=True).start()


@app.task(name="training_worker.tasks.guard.ping", acks_late=False, ignore_result=False, time_limit=10)
def ping() -> dict[str, Any]:
    """Answers readiness probes: proves a guard worker is consuming its queue, and says how its model is."""
    active = model_version_active()
    return {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "active_model": active.name if active else None,
        **get_runtime().status(),
    }


def judge_policy_tests(spec: dict[str, Any], items: list[tuple[str, str]]) -> tuple[list[Judgement], str]:
    """A policy test is one message: the user's prompt, or the assistant's response when that is judged."""
    conversations = [
        ([{"role": "assistant" if target == "response" else "user", "content": text}], target) for text, target in items
    ]
    return judge_conversations(spec, conversations, "full", timeout=POLICY_TEST_TIMEOUT_S)


def judge_conversations(
    spec: dict[str, Any],
    conversations: list[tuple[list[dict[str, str]], str]],
    reasoning: str,
    *,
    timeout: float = BACKTEST_TIMEOUT_S,
) -> tuple[list[Judgement], str]:
    requests = [
        GuardRequest(
            spec=spec,
            messages=tuple(Message(m["role"], m["content"]) for m in messages),
            target="response" if target == "response" else "prompt",
            reasoning="full" if reasoning == "full" else "none",
        )
        for messages, target in conversations
    ]
    results, model = get_runtime().judge_many(requests, timeout=timeout)
    return [Judgement(r.verdict, r.categories, r.score, r.reasoning) for r in results], model.name


@app.task(
    name="training_worker.tasks.guard.run_policy_tests",
    bind=True,
    acks_late=True,
    autoretry_for=(GuardUnavailable,),
    retry_backoff=5,
    max_retries=5,
    soft_time_limit=POLICY_TEST_TIMEOUT_S,
    time_limit=POLICY_TEST_TIMEOUT_S + 60,
)
def run_policy_tests(self: Task, run_id: int) -> str:
    run = PolicyTestRun.objects.select_related("version").get(pk=run_id)
    if run.status == PolicyTestRun.Status.COMPLETED:  # a redelivered message after a finished run
        return run.status
    return policy_test_run_execute(run=run, judge=judge_policy_tests).status


MODERATE_MAX_RETRIES = 10


@app.task(
    name="training_worker.tasks.guard.moderate_decision",
    bind=True,
    acks_late=True,
    soft_time_limit=300,
    time_limit=360,
)
def moderate_decision(self: Task, decision_id: str) -> str:
    """Judge one pending decision and complete it. Redelivered messages of done decisions are no-ops."""
    decision = Decision.objects.select_related("policy_version").get(pk=decision_id)
    if decision.status != Decision.Status.PENDING:
        return str(decision.status)
    started_at = timezone.now()
    request = GuardRequest(
        spec=decision.policy_version.spec,
        messages=tuple(Message(m["role"], m["content"]) for m in decision.messages),
        target="response" if decision.target == "response" else "prompt",
        reasoning="none" if decision.reasoning_mode == "none" else "full",
    )
    try:
        result, model = get_runtime().judge(request, timeout=280)
    except GuardUnavailable as exc:
        if self.request.retries >= MODERATE_MAX_RETRIES:
            decision_fail(decision=decision, error=str(exc))
            return str(Decision.Status.FAILED)
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc
    return str(decision_complete(decision=decision, result=result, model_version=model, started_at=started_at).status)


@app.task(
    name="training_worker.tasks.guard.run_backtest",
    bind=True,
    acks_late=True,
    autoretry_for=(GuardUnavailable,),
    retry_backoff=5,
    max_retries=5,
    soft_time_limit=BACKTEST_TIMEOUT_S,
    time_limit=BACKTEST_TIMEOUT_S + 60,
)
def run_backtest(self: Task, backtest_id: int) -> str:
    backtest = PolicyBacktest.objects.select_related("version", "baseline").get(pk=backtest_id)
    if backtest.status == PolicyBacktest.Status.COMPLETED:
        return backtest.status
    cases = [
        LabelledCase(id=c.pk, messages=c.messages, target=c.target, label=c.verdict)
        for c in case_sample(size=backtest.sample_size)
    ]
    return policy_backtest_execute(backtest=backtest, cases=cases, judge=judge_conversations).status

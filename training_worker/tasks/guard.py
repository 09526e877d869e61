"""Tasks on the `guard` queue (see CELERY_TASK_ROUTES). Model code loads inside the task bodies."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime
from typing import Any

from celery import Task
from celery.signals import task_postrun, task_prerun, worker_ready, worker_shutdown
from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from config.celery import app
from moderation_app.answers import decision_answer_push
from moderation_app.apis.moderation import decision_answer
from moderation_app.models import Decision
from moderation_app.selectors import case_sample
from moderation_app.services import decision_complete
from moderation_app.snapshot import decision_from_snapshot
from policies_app.models import PolicyBacktest, PolicyTestRun, PolicyVersion
from policies_app.selectors import policy_version_get_by_digest
from policies_app.services import Judgement, LabelledCase, policy_backtest_execute, policy_test_run_execute
from training_worker.guard.engine import unjudged
from training_worker.guard.runtime import ARRIVALS, GuardUnavailable, get_runtime, shutdown_runtime
from training_worker.guard.template import Message
from training_worker.guard.types import GuardRequest, GuardResult
from training_worker.models import ModelVersion
from training_worker.presence import PresenceReporter
from training_worker.selectors import model_version_active

GUARD_TASK_PREFIX = "training_worker.tasks.guard."
KEEPER_INTERVAL_S = 5.0
KEEPER_RETRY_S = 30.0
SHUTDOWN_WAIT_S = 30.0
KEEPER_STOP = threading.Event()  # set as the worker shuts down
KEEPERS: list[threading.Thread] = []
REPORTERS: list[PresenceReporter] = []
POLICY_TEST_TIMEOUT_S = 600
BACKTEST_TIMEOUT_S = 3600
logger = logging.getLogger(__name__)


def _consumes_guard_queue(consumer: Any) -> bool:
    try:
        return settings.GUARD_QUEUE in consumer.app.amqp.queues.consume_from
    except AttributeError:
        return False


@worker_ready.connect
def preload_guard_model(sender: Any = None, **kwargs: Any) -> None:
    """A guard worker loads the active model as it starts, so the first request does not wait for it
    and a model that cannot load shows in /readyz at once (the worker stays up either way). Then it
    keeps the model loaded: see `keep_guard_model`."""
    if not settings.GUARD_PRELOAD or not _consumes_guard_queue(sender):
        return
    keeper = threading.Thread(target=keep_guard_model, name="guard-keeper", daemon=True)
    KEEPERS.append(keeper)
    keeper.start()


@worker_ready.connect
def report_guard_presence(sender: Any = None, **kwargs: Any) -> None:
    """A guard worker says while it runs whether it can judge, so a synchronous call made while none
    can gets its 503 at once instead of after GUARD_TIMEOUT_S (training_worker/presence.py)."""
    if _consumes_guard_queue(sender):
        REPORTERS.append(PresenceReporter().start())


@worker_shutdown.connect
def release_guard_model(sender: Any = None, **kwargs: Any) -> None:
    """Stop the guard's engine as the worker stops, however it stops. vLLM's engine runs in a child
    process, and Python's exit waits for its children: a worker that left it running never exited.
    After an unrecoverable broker error (Redis restarted while a task was unacknowledged) the worker
    stopped consuming and hung for ever, alive to its supervisor and serving nothing. The keeper
    stops first, or it would load the model again."""
    while REPORTERS:
        REPORTERS.pop().stop()
    KEEPER_STOP.set()
    for keeper in KEEPERS:
        keeper.join(SHUTDOWN_WAIT_S)  # a load it has begun ends first, and is then released
    shutdown_runtime(wait_s=SHUTDOWN_WAIT_S)


def keep_guard_model() -> None:
    """Look at the model every few seconds, as a request would, so that a newly activated model, or
    the active one whose engine process stopped, is loaded before a request has to wait for it. After
    a failed load, wait longer before the next try (requests still try on their own)."""
    error: str | None = None
    while not KEEPER_STOP.is_set():
        error = guard_model_keep(reported=error)
        KEEPER_STOP.wait(KEEPER_INTERVAL_S if error is None else KEEPER_RETRY_S)


def guard_model_keep(*, reported: str | None = None) -> str | None:
    """One look: load what a request would load now. Returns why no model is usable, or None; logs
    that reason unless it is the one `reported` last time."""
    if KEEPER_STOP.is_set():
        return reported
    try:
        get_runtime().current()
    except GuardUnavailable as exc:
        if str(exc) != reported:
            logger.error("guard model not loaded: %s", exc)
        return str(exc)
    except DatabaseError as exc:  # the database restarted: the next look reconnects
        logger.warning("cannot read which guard model is active: %s", exc)
        connection.close()
        return reported
    return None


@task_prerun.connect
def count_guard_task_arrival(sender: Any = None, **kwargs: Any) -> None:
    """A guard task on its way to the batcher: the batcher waits for it rather than run a batch without it."""
    if _judges(sender):
        ARRIVALS.started()


@task_postrun.connect
def forget_guard_task_arrival(sender: Any = None, **kwargs: Any) -> None:
    """A task that ended without reaching the batcher (done decision, error) is no longer awaited."""
    if _judges(sender):
        ARRIVALS.arrived()


def _judges(task: Any) -> bool:
    name = str(getattr(task, "name", ""))
    return name.startswith(GUARD_TASK_PREFIX) and name != f"{GUARD_TASK_PREFIX}ping"


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
    requests = [guard_request(spec, messages, target, reasoning) for messages, target in conversations]
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


# While no model can judge (none active, or the active one cannot load), a task tries again after 1,
# 2 and 4 s: long enough for a switch between models. Then its decisions stay pending, and the
# recovery job (moderation_app.tasks.recover_lost_decisions) queues them again every minute once
# they are DECISION_RECOVER_AFTER_S old, so each is judged once a model can run. Failing them
# closed instead would break the 503's word that the decision stays queued and completes later.
MODERATE_RETRIES = 3


@app.task(
    name="training_worker.tasks.guard.moderate_decision",
    bind=True,
    acks_late=True,
    max_retries=MODERATE_RETRIES,
    track_started=False,  # the decision row says where it is; a STARTED write would only delay the answer
    soft_time_limit=300,
    time_limit=360,
)
def moderate_decision(
    self: Task,
    decision_id: str,
    answer: bool = False,
    policy_version: tuple[int, str] | None = None,
    snapshot: str | None = None,
    answer_to: str | None = None,
) -> str | dict[str, Any]:
    """Judge one pending decision and complete it; returns its status, or with `answer` (a caller
    waits for it) the decision as the API answers it. `policy_version` (id, sha256) names the
    decision's version as the API read it; `snapshot` is the decision as the API wrote it
    (moderation_app.snapshot). A redelivered message reads the row, so a decision done before the
    worker stopped is not judged again; a done decision is never written twice either way. With
    `answer_to`, the answer is also pushed there for the caller that waits (moderation_app.answers)."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    decision = _pending_decision(decision_id, policy_version, None if redelivered else snapshot)
    if decision.status == Decision.Status.PENDING:
        (decision,) = _moderate(self, [decision])
    if not answer or decision.status == Decision.Status.PENDING:
        return str(decision.status)  # a caller waiting for a judgement gets none from a pending decision
    rendered = decision_answer(decision)
    if answer_to:
        decision_answer_push(key=answer_to, answer=rendered)
    return rendered


def _pending_decision(
    decision_id: str, policy_version: tuple[int, str] | None, snapshot: str | None = None
) -> Decision:
    """The decision with its policy version. With a version this worker knows, the decision is the
    message's snapshot or else the row alone; anything that does not match reads both from the database."""
    version = _known_version(policy_version)
    if version is not None:
        decision = decision_from_snapshot(snapshot=snapshot) if snapshot else Decision.objects.get(pk=decision_id)
        if str(decision.pk) == decision_id and decision.policy_version_id == version.pk:
            decision.policy_version = version
            return decision
    return Decision.objects.select_related("policy_version__policy").get(pk=decision_id)


def _known_version(policy_version: tuple[int, str] | None) -> PolicyVersion | None:
    if policy_version is None:
        return None
    version_id, sha256 = policy_version
    try:
        return policy_version_get_by_digest(version_id=version_id, sha256=sha256)
    except PolicyVersion.DoesNotExist:
        return None


@app.task(
    name="training_worker.tasks.guard.moderate_batch",
    bind=True,
    acks_late=True,
    max_retries=MODERATE_RETRIES,
    track_started=False,  # the decision row says where it is; a STARTED write would only delay the answer
    soft_time_limit=600,
    time_limit=660,
)
def moderate_batch(self: Task, decision_ids: list[str]) -> list[str]:
    """Judge several pending decisions in one go, so they share model batches; done ones are skipped."""
    found = Decision.objects.select_related("policy_version").filter(pk__in=decision_ids)
    by_id = {str(d.pk): d for d in found}
    pending = [
        by_id[key]
        for key in (str(i) for i in decision_ids)
        if key in by_id and by_id[key].status == Decision.Status.PENDING
    ]
    if pending:
        _moderate(self, pending)
    statuses = {
        str(pk): status for pk, status in Decision.objects.filter(pk__in=decision_ids).values_list("pk", "status")
    }
    return [statuses.get(str(key), "missing") for key in decision_ids]


def guard_request(spec: dict[str, Any], messages: list[dict[str, str]], target: str, reasoning: str) -> GuardRequest:
    """A guard request from the stored (JSON) form of a conversation: decisions, tests, cases, the playground."""
    return GuardRequest(
        spec=spec,
        messages=tuple(Message(m["role"], m["content"]) for m in messages),
        target="response" if target == "response" else "prompt",
        reasoning="none" if reasoning == "none" else "full",
    )


def _moderate(task: Task, decisions: list[Decision]) -> list[Decision]:
    """Judge pending decisions together and complete them. While no model can judge, retry; then
    leave them pending for the recovery job (see MODERATE_RETRIES). When the guard fails on some of
    them otherwise, complete the ones it judged and retry the others; after the last try, fail them
    closed."""
    started_at = timezone.now()
    requests = [guard_request(d.policy_version.spec, d.messages, d.target, d.reasoning_mode) for d in decisions]
    try:
        outcomes, model = get_runtime().judge_each(requests, timeout=280)
    except GuardUnavailable as exc:
        if task.request.retries >= MODERATE_RETRIES:
            logger.warning(
                "no guard model can judge %d decisions (%s); they stay pending and are queued again later: %s",
                len(decisions),
                exc,
                ", ".join(str(d.pk) for d in decisions[:20]),
            )
            return decisions
        raise task.retry(exc=exc, countdown=2**task.request.retries) from exc
    failure = next((outcome for outcome in outcomes if isinstance(outcome, Exception)), None)
    if failure is not None and task.request.retries < MODERATE_RETRIES:
        # The judged ones are done now: the retry (which skips completed decisions) judges only the
        # others, and their callers need not wait for it. Before, each retry judged them all again.
        for decision, outcome in zip(decisions, outcomes, strict=True):
            if not isinstance(outcome, Exception):
                _complete(decision, outcome, model=model, started_at=started_at)
        raise task.retry(exc=failure, countdown=2**task.request.retries) from failure
    return [
        _complete(d, _judged_or_failed_closed(d, o), model=model, started_at=started_at)
        for d, o in zip(decisions, outcomes, strict=True)
    ]


def _complete(decision: Decision, result: GuardResult, *, model: ModelVersion, started_at: datetime) -> Decision:
    """Complete one decision. A judgement the database refuses fails that decision closed on its own:
    raised, it left the rest of the batch pending, and the sweep queued it again for ever."""
    try:
        return decision_complete(decision=decision, result=result, model_version=model, started_at=started_at)
    except DatabaseError as exc:
        logger.exception("the judgement of decision %s could not be stored; it fails closed", decision.pk)
        refused = unjudged(f"the guard's judgement could not be stored ({type(exc).__name__})")
        return decision_complete(decision=decision, result=refused, model_version=model, started_at=started_at)


def _judged_or_failed_closed(decision: Decision, outcome: GuardResult | Exception) -> GuardResult:
    """The guard's result, or, for an error after the last retry, a result that fails closed (no
    verdict, flagged, routed to review, the error kept): the decision is neither lost nor queued again
    for ever, and a waiting caller gets an answer."""
    if not isinstance(outcome, Exception):
        return outcome
    logger.error("the guard failed on decision %s; it fails closed and goes to review", decision.pk, exc_info=outcome)
    return unjudged(f"the guard failed on this content ({type(outcome).__name__}: {outcome})")


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


PLAYGROUND_TIME_LIMIT_S = 120


@app.task(
    name="training_worker.tasks.guard.judge_playground",
    acks_late=False,  # an interactive try-out: a lost one is simply run again by its user
    ignore_result=False,
    soft_time_limit=PLAYGROUND_TIME_LIMIT_S,
    time_limit=PLAYGROUND_TIME_LIMIT_S + 30,
)
def judge_playground(
    spec: dict[str, Any], messages: list[dict[str, str]], target: str, reasoning: str
) -> dict[str, Any]:
    """Judge one conversation for the playground. It takes the spec itself rather than an id: a draft
    has no row, and playground runs are never stored as decisions."""
    request = guard_request(spec, messages, target, reasoning)
    result, model = get_runtime().judge(request, timeout=PLAYGROUND_TIME_LIMIT_S - 10)
    return {
        "verdict": result.verdict,
        "flagged": result.flagged,
        "malformed": result.malformed,
        "score": result.score,
        "categories": result.categories,
        "category_scores": result.category_scores,
        "reasoning": result.reasoning,
        "raw_output": result.raw_output,
        "error": result.error or "",
        "content_truncated": result.truncated,
        "inference_ms": result.inference_ms,
        "model": {"id": model.pk, "name": model.name},
    }

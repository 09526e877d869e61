"""Writes for the model registry and for training runs: create (one at a time), execute, gate."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from config.errors import ApiError
from training_worker.guard import TEMPLATE_VERSION
from training_worker.guard.template import Message, Target
from training_worker.guard.types import GuardRequest
from training_worker.model_store import (
    PACKAGED_BASE,
    PACKAGED_NAME,
    convert_gguf,
    is_converted,
    packaged_gguf_path,
)
from training_worker.models import OPEN_RUN_STATUSES, ModelVersion, TrainingRun
from training_worker.selectors import model_version_active


def model_version_register(
    *,
    name: str,
    base: str,
    path: str,
    source: str = ModelVersion.Source.REGISTERED,
    template_version: str = TEMPLATE_VERSION,
    parent: ModelVersion | None = None,
    training_run: TrainingRun | None = None,
    metrics: dict[str, Any] | None = None,
) -> ModelVersion:
    return ModelVersion.objects.create(
        name=name,
        base=base,
        path=path,
        source=source,
        template_version=template_version,
        parent=parent,
        training_run=training_run,
        metrics=metrics or {},
    )


@transaction.atomic
def model_version_activate(*, model_version: ModelVersion, actor: AbstractBaseUser | None = None) -> ModelVersion:
    """Make this the one active model; the previously active one is retired (and can be re-activated,
    which is how a rollback works). Guard workers poll for the active model and switch without a restart."""
    locked = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
    if locked.status == ModelVersion.Status.ACTIVE:
        return locked
    ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).update(status=ModelVersion.Status.RETIRED)
    locked.status = ModelVersion.Status.ACTIVE
    locked.activated_at = timezone.now()
    locked.activated_by_id = actor.pk if actor is not None else None
    locked.save(update_fields=["status", "activated_at", "activated_by"])
    return locked


def model_install_default(*, store: Path) -> tuple[ModelVersion, bool]:
    """Convert the packaged SmolLM2 into `store` once, register it and activate it if nothing is active.

    Returns the model and whether any work was done. Rerunning is cheap: it only checks files and rows.
    """
    target = store / PACKAGED_NAME
    did_work = False
    if not is_converted(target):
        store.mkdir(parents=True, exist_ok=True)
        convert_gguf(gguf_path=packaged_gguf_path(), target=target)
        did_work = True
    model = ModelVersion.objects.filter(name=PACKAGED_NAME).first()
    if model is None:
        model = model_version_register(
            name=PACKAGED_NAME, base=PACKAGED_BASE, path=str(target), source=ModelVersion.Source.PACKAGED
        )
        did_work = True
    elif model.path != str(target):
        # Registered under another MODEL_STORE (a moved install): point the row at what is installed here.
        model.path = str(target)
        model.save(update_fields=["path"])
        did_work = True
    if not ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).exists():
        model = model_version_activate(model_version=model)
        did_work = True
    return model, did_work


# --- The evaluation gate ------------------------------------------------------------------------


@dataclass(frozen=True)
class GateDecision:
    promoted: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"promoted": self.promoted, "reason": self.reason}


def _policy_test_regressions(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Tests the active model passed that the candidate fails (by name when both runs list failures)."""
    if "failed" in before and "failed" in after:
        return sorted(set(after["failed"]) - set(before["failed"]))
    lost = int(before.get("passed", 0)) - int(after.get("passed", 0))
    return [f"{lost} fewer passing"] if lost > 0 else []


def gate_decide(*, before: Mapping[str, Any], after: Mapping[str, Any], margin: float) -> GateDecision:
    """Promote the candidate only if its held-out F1 beats the active model's by `margin` and it fails
    no policy test the active model passed. `before`/`after` are the evaluations of the two models."""
    if not after.get("n"):
        return GateDecision(False, "no held-out cases to evaluate on, so no evidence the candidate is better")
    regressions = _policy_test_regressions(before.get("policy_tests") or {}, after.get("policy_tests") or {})
    if regressions:
        return GateDecision(False, f"policy tests regressed: {', '.join(regressions[:10])}")
    old, new = float(before.get("f1") or 0.0), float(after.get("f1") or 0.0)
    change = f"F1 {old:.3f} -> {new:.3f} ({new - old:+.3f})"
    if new < old + margin:
        return GateDecision(False, f"{change} is below the required improvement of {margin:+.3f}")
    return GateDecision(True, f"{change} meets the required improvement of {margin:+.3f}; no policy test regressed")


# --- Training runs ----------------------------------------------------------------------------

RUN_LOG_MAX_CHARS = 200_000
logger = logging.getLogger(__name__)


class TrainingError(RuntimeError):
    """A run cannot go on; the message is what the run records as its error."""


def training_config_resolve(*, steps: int | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The full config a run records: the defaults, the overrides, then `steps`. Unknown or invalid
    keys are refused before anything is stored."""
    from training_worker.training.args import TrainingArguments

    config = {**overrides, **({"steps": steps} if steps is not None else {})}
    dataset = {name: config.pop(name, default) for name, default in _dataset_defaults().items()}
    for name, value in dataset.items():
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise ApiError(code="invalid", message=f"config: {name} must be a whole number >= 0, not {value!r}")
    try:
        arguments = TrainingArguments.from_dict(config)
    except ValueError as exc:
        raise ApiError(code="invalid", message=f"config: {exc}") from exc
    return arguments.to_dict() | dataset


def _dataset_defaults() -> dict[str, int | None]:
    """Run options that shape the dataset rather than the trainer (None: every held-out case)."""
    return {"replay_size": settings.TRAIN_REPLAY_SIZE, "eval_size": settings.TRAIN_EVAL_SIZE}


def _open_runs() -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(status__in=OPEN_RUN_STATUSES)


def training_runs_recover_stale() -> list[int]:
    """Fail runs whose worker stopped reporting (killed, lost) or that no worker ever started, so they
    do not hold the one-run lock forever. The active model is never touched: only the gate activates."""
    now = timezone.now()
    stale_at = now - timedelta(seconds=settings.TRAIN_STALE_AFTER_S)
    recovered: list[int] = []
    dead = _open_runs().filter(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=stale_at)
    for run_id, heartbeat in dead.values_list("id", "heartbeat_at"):
        message = (
            f"the run stopped reporting at {heartbeat:%Y-%m-%d %H:%M:%S} UTC (its worker was killed or lost); "
            "the active model was not changed"
        )
        # The heartbeat is in the filter again, so a run that reported meanwhile is left alone.
        if _fail(
            TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING, heartbeat_at=heartbeat), message
        ):
            recovered.append(run_id)
    never_started = _open_runs().filter(
        status=TrainingRun.Status.QUEUED, created_at__lt=now - timedelta(seconds=settings.TRAIN_QUEUED_TIMEOUT_S)
    )
    for run_id in never_started.values_list("id", flat=True):
        message = f"no train worker started it within {settings.TRAIN_QUEUED_TIMEOUT_S} s"
        if _fail(TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED), message):
            recovered.append(run_id)
    return recovered


def _fail(runs: QuerySet[TrainingRun], message: str) -> bool:
    return runs.update(status=TrainingRun.Status.FAILED, error=message, finished_at=timezone.now()) > 0


def training_run_create(
    *,
    trigger: str = TrainingRun.Trigger.MANUAL,
    requested_by: AbstractBaseUser | None = None,
    steps: int | None = None,
    config: Mapping[str, Any] | None = None,
    enqueue: bool = True,
) -> TrainingRun:
    """Queue a run. One run at a time: a unique index admits one queued-or-running row, so of two
    concurrent requests one gets 409 `training_in_progress`."""
    resolved = training_config_resolve(steps=steps, overrides=config or {})
    training_runs_recover_stale()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(
                trigger=trigger,
                requested_by_id=requested_by.pk if requested_by is not None else None,
                config=resolved,
            )
    except IntegrityError:
        raise _in_progress_error() from None
    if enqueue:
        transaction.on_commit(lambda: _enqueue_training(run.pk))
    return run


def _in_progress_error() -> ApiError:
    current = _open_runs().first()
    which = f"training run {current.pk} is {current.status}" if current else "a training run is in progress"
    return ApiError(code="training_in_progress", message=f"{which}; one run at a time", status_code=409)


def _enqueue_training(run_id: int) -> None:
    from training_worker.tasks.train import run_training

    run_training.delay(run_id)


def training_schedule_check() -> TrainingRun | None:
    """The periodic check: start a run when enough labelled cases arrived since the last good run."""
    from training_worker.selectors import labelled_cases_since_count, training_run_last_succeeded

    training_runs_recover_stale()
    if _open_runs().exists():
        return None
    last = training_run_last_succeeded()
    if labelled_cases_since_count(since=last.started_at if last else None) < settings.TRAIN_MIN_NEW_CASES:
        return None
    try:
        return training_run_create(trigger=TrainingRun.Trigger.SCHEDULE)
    except ApiError:  # another request won the lock in between
        return None


STEP_FIELDS = ("step", "reward_mean", "reward_std", "frac_reward_zero_std", "format_rate", "accuracy", "loss", "kl")


def _step_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One step's metrics in the shape the API serves (the fields it lacks are null)."""
    row = {name: raw.get(name) for name in STEP_FIELDS}
    if isinstance(row["step"], float):
        row["step"] = int(row["step"])
    return row | {k: v for k, v in raw.items() if k not in row and isinstance(v, int | float | str | None)}


class _RunReporter(logging.Handler):
    """While a run executes, a background thread writes its heartbeat and its logs to the row, so a run
    that stops reporting (a killed worker) can be told from a slow one, and its logs outlive it."""

    def __init__(self, run_id: int) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.run_id = run_id
        self.interval_s = max(1.0, min(30.0, settings.TRAIN_STALE_AFTER_S / 4))
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"training-run-{run_id}", daemon=True)

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        with self._lines_lock:
            self._lines.append(line)

    def say(self, message: str) -> None:
        """A line of the run's own, recorded whatever level the worker's loggers are set to."""
        logger.info("training run %s: %s", self.run_id, message)
        if not logger.isEnabledFor(logging.INFO):  # else emit() has recorded it already
            self.emit(logger.makeRecord(logger.name, logging.INFO, __file__, 0, message, (), None))

    def text(self) -> str:
        with self._lines_lock:
            text = "\n".join(self._lines)
        return text if len(text) <= RUN_LOG_MAX_CHARS else "[... earlier lines cut ...]\n" + text[-RUN_LOG_MAX_CHARS:]

    def write(self) -> None:
        # Only while running: a run already failed as stale must not look alive again.
        TrainingRun.objects.filter(pk=self.run_id, status=TrainingRun.Status.RUNNING).update(
            heartbeat_at=timezone.now(), logs=self.text()
        )

    def _beat(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                try:
                    self.write()
                except DatabaseError:  # a blip must not stop the heartbeat for good
                    logger.warning("training run %s: could not write its heartbeat", self.run_id, exc_info=True)
        finally:
            connection.close()  # this thread's own database connection

    def __enter__(self) -> _RunReporter:
        for name in LOGGERS_RECORDED:
            logging.getLogger(name).addHandler(self)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for name in LOGGERS_RECORDED:
            logging.getLogger(name).removeHandler(self)
        TrainingRun.objects.filter(pk=self.run_id).update(logs=self.text())


# transformers' loggers do not propagate to the root logger.
LOGGERS_RECORDED = ("", "transformers")


def training_run_execute(*, run: TrainingRun) -> TrainingRun:
    """Train, evaluate and gate a queued run. A failure is recorded on the run (error and logs), not
    raised, and leaves the active model as it was: only the final gate step activates, in a transaction."""
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:  # finished, failed, or a redelivered message of a run that is (or was) running
        run.refresh_from_db()
        return run
    with _RunReporter(run.pk) as reporter:
        try:
            _train_and_gate(run_id=run.pk, say=reporter.say)
        except Exception as exc:
            logger.exception("training run %s failed", run.pk)
            _fail(
                TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING), f"{type(exc).__name__}: {exc}"
            )
    run.refresh_from_db()
    return run


def _save_run(run_id: int, **fields: Any) -> None:
    TrainingRun.objects.filter(pk=run_id).update(heartbeat_at=timezone.now(), **fields)


def _train_and_gate(*, run_id: int, say: Callable[[str], None]) -> None:
    from training_worker.selectors import training_run_last_succeeded
    from training_worker.training.args import TrainingArguments
    from training_worker.training.dataset import training_dataset_build
    from training_worker.training.grpo import main as grpo_main

    run = TrainingRun.objects.get(pk=run_id)
    base = model_version_active()
    if base is None:
        raise TrainingError("no active model to train from: run `manage.py guard install-default`")
    _save_run(run_id, base_model=base)
    config = dict(run.config)
    dataset_options = {name: config.pop(name, default) for name, default in _dataset_defaults().items()}
    arguments = TrainingArguments.from_dict(config)
    last = training_run_last_succeeded()
    dataset = training_dataset_build(
        since=last.started_at if last else None,
        replay_size=dataset_options["replay_size"] or 0,
        seed=arguments.seed,
        eval_size=dataset_options["eval_size"],
    )
    sizes = {"train": len(dataset.train), "eval": len(dataset.eval), "new_cases": dataset.new_cases}
    _save_run(run_id, dataset=sizes | {"replay_cases": dataset.replay_cases, "skipped_cases": dataset.skipped_cases})
    say(f"{sizes} from model {base.name}")
    if not dataset.train:
        raise TrainingError("no labelled cases to train on: review some decisions or import cases")

    before = model_evaluation(model_dir=Path(base.path), examples=dataset.eval, arguments=arguments)
    _save_run(run_id, eval_before=before)
    if not base.metrics:
        ModelVersion.objects.filter(pk=base.pk).update(metrics=before)
    steps: list[dict[str, Any]] = []
    deadline = time.monotonic() + settings.TRAIN_TIME_LIMIT_S

    def on_step(raw: Mapping[str, Any]) -> None:
        steps.append(_step_row(raw))
        _save_run(run_id, steps=steps)
        if time.monotonic() > deadline:
            raise TrainingError(f"the run went over TRAIN_TIME_LIMIT_S ({settings.TRAIN_TIME_LIMIT_S} s)")

    output = grpo_main(
        arguments,
        base_model_dir=Path(base.path),
        dataset=dataset,
        output_dir=Path(settings.MODEL_STORE) / f"guard-run-{run_id}",
        on_step=on_step,
        on_log=say,
    )
    _save_run(
        run_id,
        steps=[_step_row(s) for s in output.steps] or steps,
        sft_ran=output.sft_ran,
        sft_steps=list(output.sft_steps),
        sft_format_rate=output.format_rate_before,
    )
    candidate = model_version_register(
        name=f"guard-run-{run_id}",
        base=base.name,
        path=str(output.model_dir),
        source=ModelVersion.Source.TRAINED,
        parent=base,
        training_run=run,
    )
    after = model_evaluation(model_dir=output.model_dir, examples=dataset.eval, arguments=arguments)
    decision = gate_decide(before=before, after=after, margin=settings.TRAIN_F1_MARGIN)
    training_run_gate_apply(run_id=run_id, candidate=candidate, base=base, evaluation=after, decision=decision)


@transaction.atomic
def training_run_gate_apply(
    *, run_id: int, candidate: ModelVersion, base: ModelVersion, evaluation: dict[str, Any], decision: GateDecision
) -> TrainingRun:
    """The run's last step: record the decision, and activate the candidate if it was promoted. A
    candidate that is not promoted stays a candidate (it can still be activated by hand)."""
    run = TrainingRun.objects.select_for_update().get(pk=run_id)
    if run.status != TrainingRun.Status.RUNNING:
        raise TrainingError(f"the run is {run.status} ({run.error}); its candidate is kept and not activated")
    active = ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE).first()
    if decision.promoted and (active is None or active.pk != base.pk):
        decision = GateDecision(False, f"{decision.reason}, but the active model changed during the run")
    gate = decision.as_dict() | {"margin": settings.TRAIN_F1_MARGIN, "compared_with": base.pk}
    ModelVersion.objects.filter(pk=candidate.pk).update(metrics=evaluation | {"gate": gate})
    if decision.promoted:
        model_version_activate(model_version=candidate)
    run.status = TrainingRun.Status.SUCCEEDED
    run.eval_after, run.gate = evaluation, gate
    run.finished_at = run.heartbeat_at = timezone.now()
    run.save(update_fields=["status", "eval_after", "gate", "finished_at", "heartbeat_at"])
    return run


EMPTY_EVALUATION = {"n": 0, "f1": 0.0, "precision": 0.0, "recall": 0.0, "accuracy": 0.0, "format_rate": 0.0}


def model_evaluation(*, model_dir: Path, examples: Sequence[Any], arguments: Any) -> dict[str, Any]:
    """A model judged on the held-out examples and on the published policies' tests. The format rate
    is measured on the first `format_probe_size` examples (free generation is the slow part)."""
    from training_worker.training.evaluate import model_evaluate

    logger.info("evaluating %s on %d held-out cases and the published policies' tests", model_dir, len(examples))
    metrics: dict[str, Any] = {"per_category_recall": {}, **EMPTY_EVALUATION}
    if examples:
        measured = model_evaluate(
            model_dir=model_dir,
            examples=list(examples),
            format_examples=arguments.format_probe_size,
            max_new_tokens=arguments.format_max_new_tokens,
        )
        metrics = metrics | dict(measured)
    return metrics | {"policy_tests": policy_tests_judge(model_dir=model_dir)}


def _test_id(slug: str, version: int, index: int, test: Mapping[str, Any]) -> str:
    return f"{slug}@{version}#{index}" + (f" ({test['name']})" if test.get("name") else "")


def policy_tests_judge(*, model_dir: Path) -> dict[str, Any]:
    """The published policies' tests judged by the model in `model_dir` (not the workers' active model),
    with the same guard and the same pass rule as a policy test run."""
    from policies_app.models import Policy
    from policies_app.services import Judgement, policy_test_passed
    from training_worker.guard.backends.transformers_backend import TransformersBackend
    from training_worker.guard.engine import Guard

    cases: list[tuple[str, Mapping[str, Any], GuardRequest]] = []
    for policy in Policy.objects.filter(published_version__isnull=False).select_related("published_version"):
        version = policy.published_version
        assert version is not None
        for index, test in enumerate(version.spec.get("tests") or []):
            target: Target = "response" if test.get("target") == "response" else "prompt"
            role = "assistant" if target == "response" else "user"
            request = GuardRequest(spec=version.spec, messages=(Message(role, test["input"]),), target=target)
            cases.append((_test_id(policy.slug, version.number, index, test), test, request))
    if not cases:
        return {"passed": 0, "total": 0, "failed": []}
    guard = Guard(
        TransformersBackend(str(model_dir)),
        max_think_tokens=settings.GUARD_MAX_THINK_TOKENS,
        max_content_tokens=settings.GUARD_MAX_CONTENT_TOKENS,
    )
    results = guard.judge([request for _, _, request in cases])
    failed = [
        test_id
        for (test_id, test, _), result in zip(cases, results, strict=True)
        if not policy_test_passed(test, Judgement(result.verdict, result.categories, result.score, result.reasoning))
    ]
    return {"passed": len(cases) - len(failed), "total": len(cases), "failed": failed}

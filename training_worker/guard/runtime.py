"""The guard inside a worker process: the active model, loaded once, behind a micro-batcher.

Every task thread calls `get_runtime().judge(...)`. The runtime notices a newly activated model
(checked every few seconds) and switches to it without a restart. A model that cannot load leaves
the worker alive: tasks fail with `GuardUnavailable` (and are retried), and the ping reports why.
A model whose engine stops (its process killed, out of memory) is dropped and loaded again: the
calls it failed get `GuardUnavailable` too, so their tasks retry on the reloaded model.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from policies_app.selectors import policy_version_published_list
from training_worker.guard.backends.base import Backend, BackendDead
from training_worker.guard.batcher import Arrivals, BatcherClosed, MicroBatcher
from training_worker.guard.engine import Guard
from training_worker.guard.template import Message
from training_worker.guard.types import GuardRequest, GuardResult
from training_worker.models import ModelVersion
from training_worker.selectors import model_version_active

logger = logging.getLogger(__name__)
# Guard tasks of this process that have started and not yet reached the batcher (see tasks/guard.py).
ARRIVALS = Arrivals()
SUBMIT_TRIES = 3
WARMUP_TEXT = "Hello, how are you?"


class GuardUnavailable(RuntimeError):
    """No model can judge right now (none active, or it failed to load)."""


def vllm_importable() -> bool:
    return importlib.util.find_spec("vllm") is not None


def resolve_backend_name(name: str) -> str:
    if name == "auto":
        return "vllm" if vllm_importable() else "transformers"
    if name not in ("vllm", "transformers"):
        raise GuardUnavailable(f"unknown guard backend {name!r}; use auto, vllm or transformers")
    return name


def load_backend(*, name: str, path: str) -> Backend:
    resolved = resolve_backend_name(name)
    if resolved == "vllm":
        from training_worker.guard.backends.vllm_backend import VllmBackend

        return VllmBackend(path)
    from training_worker.guard.backends.transformers_backend import TransformersBackend

    return TransformersBackend(path)


@dataclass
class Loaded:
    model: ModelVersion
    guard: Guard
    batcher: MicroBatcher[GuardRequest, GuardResult]


class GuardRuntime:
    def __init__(
        self,
        *,
        backend: str,
        max_batch: int,
        max_wait_ms: float,
        max_think_tokens: int,
        batches_in_flight: int = 1,
        check_interval_s: float = 2.0,
        warmup_policies: int = 0,
    ) -> None:
        self.backend_name = backend
        self.batches_in_flight = batches_in_flight
        self.max_batch = max_batch
        self.max_wait_ms = max_wait_ms
        self.max_think_tokens = max_think_tokens
        self.check_interval_s = check_interval_s
        self.warmup_policies = warmup_policies
        self._lock = threading.Lock()
        self._loaded: Loaded | None = None
        self._checked_at = 0.0
        self.load_error: str | None = None
        self._loading: str | None = None  # the model being loaded now, for readiness

    def _load(self, model: ModelVersion) -> Loaded:
        started = time.perf_counter()
        backend = load_backend(name=self.backend_name, path=model.path)
        guard = Guard(
            backend, max_think_tokens=self.max_think_tokens, max_content_tokens=settings.GUARD_MAX_CONTENT_TOKENS
        )
        self._warm_up(guard)
        batcher: MicroBatcher[GuardRequest, GuardResult] = MicroBatcher(
            guard.judge,
            max_batch=self.max_batch,
            max_wait_ms=self.max_wait_ms,
            arrivals=ARRIVALS,
            runners=self.batches_in_flight if backend.concurrent else 1,
            on_close=backend.close,
        )
        logger.info("guard model %s loaded with %s in %.1fs", model.name, backend.name, time.perf_counter() - started)
        return Loaded(model=model, guard=guard, batcher=batcher)

    def _warm_up(self, guard: Guard) -> None:
        """Judge a short message under each published policy while the model still counts as loading.

        That computes and caches each policy's prompt prefix (over a thousand tokens), so the first
        call under it is as fast as the ones after it. A failed warm-up costs speed, not the model.
        """
        if not self.warmup_policies:
            return
        started = time.perf_counter()
        message = (Message("user", WARMUP_TEXT),)
        try:
            versions = policy_version_published_list(limit=self.warmup_policies)
            guard.judge(
                [GuardRequest(spec=v.spec, messages=message, target="prompt", reasoning="none") for v in versions]
            )
        except Exception as exc:  # noqa: BLE001 - a failed warm-up (the database, the model) must not unload the model
            logger.warning("guard warm-up failed; the first calls may be slower: %s", exc)
            return
        logger.info("guard warmed up for %d policies in %.1fs", len(versions), time.perf_counter() - started)

    def current(self) -> Loaded:
        with self._lock:
            now = time.monotonic()
            if self._loaded is not None and (failure := self._loaded.guard.backend.failure()):
                self._drop_stopped(failure)
            if self._loaded is not None and now - self._checked_at < self.check_interval_s:
                return self._loaded
            active = model_version_active()
            self._checked_at = now
            if active is None:
                # Kept as the load error too, so the worker's presence says why it cannot judge.
                self.load_error = "no active guard model: run `manage.py guard install-default`"
                raise GuardUnavailable(self.load_error)
            if self._loaded is not None and self._loaded.model.pk == active.pk:
                self.load_error = None  # active again after a while with none
                return self._loaded
            self._loading = active.name
            try:
                loaded = self._load(active)
            except Exception as exc:  # whatever a corrupt model raises, the worker stays up and says why
                self.load_error = f"cannot load model {active.name}: {exc}"
                self._checked_at = 0.0  # try again on the next call
                logger.exception("guard model %s failed to load", active.name)
                raise GuardUnavailable(self.load_error) from exc
            finally:
                self._loading = None
            previous, self._loaded, self.load_error = self._loaded, loaded, None
        if previous is not None:
            previous.batcher.close()
        return loaded

    def _drop_stopped(self, failure: str) -> None:
        """Forget a model whose engine has stopped (the caller holds the lock), so it is loaded again."""
        assert self._loaded is not None
        stopped, self._loaded = self._loaded, None
        self.load_error = f"model {stopped.model.name} stopped: {failure}; loading it again"
        logger.error("guard %s", self.load_error)
        stopped.batcher.close()

    def judge(self, request: GuardRequest, *, timeout: float | None = None) -> tuple[GuardResult, ModelVersion]:
        (result,), model = self.judge_many([request], timeout=timeout)
        return result, model

    def judge_many(
        self, requests: list[GuardRequest], *, timeout: float | None = None
    ) -> tuple[list[GuardResult], ModelVersion]:
        """Submit all at once, so the batcher can put them in the same batches; the first request's
        error is raised."""
        outcomes, model = self.judge_each(requests, timeout=timeout)
        results: list[GuardResult] = []
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                raise outcome
            results.append(outcome)
        return results, model

    def judge_each(
        self, requests: list[GuardRequest], *, timeout: float | None = None
    ) -> tuple[list[GuardResult | Exception], ModelVersion]:
        """`judge_many` with each request's own error in its place: the batcher runs a failing batch
        again item by item, so a request the model cannot take fails alone. An engine that stopped
        under them fails them all, as `GuardUnavailable`."""
        ARRIVALS.started()  # the batcher waits until all of them are in (a no-op if the task counted)
        try:
            loaded, futures = self._submit(requests)
        finally:
            ARRIVALS.arrived()
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            return [_outcome(loaded, future, deadline) for future in futures], loaded.model
        except GuardUnavailable:
            for future in futures:
                future.cancel()  # nobody waits for them now: the batcher skips what it has not started
            raise

    def _submit(self, requests: list[GuardRequest]) -> tuple[Loaded, list[Future[GuardResult]]]:
        """Hand the requests to the current model's batcher. One closed meanwhile (the model was
        switched between reading it and handing them in) takes nothing: hand them to the new one."""
        for _ in range(SUBMIT_TRIES):
            loaded = self.current()
            try:
                return loaded, loaded.batcher.submit_many(requests)
            except BatcherClosed:
                continue
        raise GuardUnavailable("the guard model kept changing while requests were handed in")

    def close(self, *, wait_s: float | None = None) -> None:
        """Release the loaded model: its batcher finishes what it holds, then stops the backend (and
        with it vLLM's engine process). With `wait_s`, wait up to that long for it to have stopped."""
        with self._lock:
            loaded, self._loaded = self._loaded, None
        if loaded is not None:
            loaded.batcher.close(wait_s=wait_s)

    def status(self) -> dict[str, Any]:
        loaded = self._loaded
        return {
            "backend": loaded.guard.backend.name if loaded else resolve_backend_name(self.backend_name),
            "loaded_model": loaded.model.name if loaded else None,
            "loading_model": self._loading,
            "load_error": (_trouble(loaded) if loaded else None) or self.load_error,
        }


def _outcome(loaded: Loaded, future: Future[GuardResult], deadline: float | None) -> GuardResult | Exception:
    """The batcher's result or the request's own error. An engine that stopped under it, or a model
    that has not answered by `deadline`, makes the guard unavailable, not the content bad, so the
    callers' tasks retry (their decisions stay pending) instead of failing closed to review."""
    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        return future.result(timeout=timeout)
    except TimeoutError as exc:
        if future.done():  # the request's own TimeoutError, raised while it was judged
            return exc
        raise GuardUnavailable(f"model {loaded.model.name} did not answer within the call's time") from None
    except BackendDead as exc:
        raise GuardUnavailable(f"model {loaded.model.name} stopped while judging: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - this request's own failure, handed to its caller
        return exc


def _trouble(loaded: Loaded) -> str | None:
    """What keeps a loaded model from judging now: its engine stopped, or a batch of it has run
    longer than any caller waits (GUARD_TIMEOUT_S), so the model hangs. None when it can judge."""
    failure = loaded.guard.backend.failure()
    if failure:
        return f"model {loaded.model.name} stopped: {failure}"
    busy_since = loaded.batcher.busy_since
    if busy_since is not None and time.monotonic() - busy_since > settings.GUARD_TIMEOUT_S:
        return f"model {loaded.model.name} has been judging one batch for {time.monotonic() - busy_since:.0f} s"
    return None


_runtime: GuardRuntime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> GuardRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = GuardRuntime(
                backend=settings.GUARD_BACKEND,
                max_batch=settings.GUARD_MAX_BATCH,
                max_wait_ms=settings.GUARD_MAX_WAIT_MS,
                max_think_tokens=settings.GUARD_MAX_THINK_TOKENS,
                batches_in_flight=settings.GUARD_BATCHES_IN_FLIGHT,
                warmup_policies=settings.GUARD_WARMUP_POLICIES,
            )
        return _runtime


def shutdown_runtime(*, wait_s: float | None = None) -> None:
    """Release the loaded model (worker shutdown; tests); see `GuardRuntime.close`."""
    global _runtime
    with _runtime_lock:
        runtime, _runtime = _runtime, None
    if runtime is not None:
        runtime.close(wait_s=wait_s)

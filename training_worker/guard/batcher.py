"""A micro-batcher: concurrent callers (the guard worker's threads) share one model call.

Each caller submits one item and blocks on its result; a runner thread gathers up to `max_batch`
items, waiting at most `max_wait_ms` after the first, and runs them as one batch. With one runner
(the default) one thread owns the model, so backends need not be thread-safe. A backend that takes
calls from several threads at once (vLLM's engine driver) gets `runners` > 1: items that arrive
while a batch is in flight go to the model at once, in a batch of their own, instead of waiting for
it to finish.

A batch that fails is run again one item at a time: an item the model cannot take (the engine
refuses it, the backend raises on it) fails its own caller, not the others that shared its batch.

With `Arrivals`, the batcher waits for company only while callers are known to be on their way
(a guard task has started but not submitted yet), so a lone request runs at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
POLL_S = 0.002  # how often a waiting batcher looks again whether anyone is still coming


class Arrivals:
    """Callers that have started and not yet submitted their item, counted once per thread."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def started(self) -> None:
        if getattr(self._local, "coming", False):
            return
        self._local.coming = True
        with self._lock:
            self._count += 1

    def arrived(self) -> None:
        """Call after submitting (or when giving up): the batcher then has the item or stops waiting."""
        if not getattr(self._local, "coming", False):
            return
        self._local.coming = False
        with self._lock:
            self._count -= 1

    @property
    def on_their_way(self) -> int:
        return self._count


class BatcherClosed(RuntimeError):
    """Submitted after `close`: no runner is left to take it."""


class MicroBatcher(Generic[In, Out]):
    def __init__(
        self,
        run: Callable[[Sequence[In]], list[Out]],
        *,
        max_batch: int = 8,
        max_wait_ms: float = 20.0,
        arrivals: Arrivals | None = None,
        runners: int = 1,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if runners < 1:
            raise ValueError("runners must be at least 1")
        self._run = run
        self.max_batch = max_batch
        self.max_wait_s = max_wait_ms / 1000
        self.arrivals = arrivals
        self._queue: queue.Queue[tuple[In, Future[Out]] | None] = queue.Queue()
        self.batches_run = 0
        self._on_close = on_close
        self._live_runners = runners
        self._lock = threading.Lock()
        self._closed = False
        self._running: dict[int, float] = {}  # runner thread id -> when its batch started
        self._threads = [
            threading.Thread(target=self._loop, name=f"guard-batcher-{n}", daemon=True) for n in range(runners)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def runners(self) -> int:
        return len(self._threads)

    def submit(self, item: In) -> Future[Out]:
        return self.submit_many([item])[0]

    def submit_many(self, items: list[In]) -> list[Future[Out]]:
        """Queue items for the runners, all of them or, once the batcher is closed, none: then
        `BatcherClosed` (no runner would take them, and their callers would wait for ever)."""
        futures: list[Future[Out]] = [Future() for _ in items]
        with self._lock:
            if self._closed:
                raise BatcherClosed("the batcher is closed (its model was switched or released)")
            for item, future in zip(items, futures, strict=True):
                self._queue.put((item, future))
        return futures

    @property
    def busy_since(self) -> float | None:
        """When the longest-running batch now in the model started (time.monotonic()), or None."""
        with self._lock:
            return min(self._running.values(), default=None)

    def __call__(self, item: In, timeout: float | None = None) -> Out:
        future = self.submit(item)
        try:
            return future.result(timeout=timeout)
        except TimeoutError:
            future.cancel()  # its caller gave up: not run for nobody once a runner gets to it
            raise

    def close(self, *, wait_s: float | None = None) -> None:
        """Finish what is queued, then stop the runners; the last one out calls `on_close`. With
        `wait_s`, return once they have stopped (and `on_close` has run), or after that long."""
        with self._lock:
            self._closed = True
            self._queue.put(None)  # after every item submitted before: those are still run
        if wait_s is None:
            return
        deadline = time.monotonic() + wait_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _gather(self) -> tuple[list[tuple[In, Future[Out]]], bool]:
        first = self._queue.get()
        if first is None:
            self._queue.put(None)  # for the other runners
            return [], True
        batch = [first]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if self.arrivals is not None and not self.arrivals.on_their_way and self._queue.empty():
                break  # nobody else is coming: this batch would wait for nothing
            try:
                entry = self._queue.get(timeout=remaining if self.arrivals is None else min(remaining, POLL_S))
            except queue.Empty:
                if self.arrivals is None:
                    break
                continue
            if entry is None:
                self._queue.put(None)  # stop after this batch
                break
            batch.append(entry)
        return batch, False

    def _loop(self) -> None:
        while True:
            gathered, stop = self._gather()
            if stop:
                self._runner_done()
                return
            batch = [(item, future) for item, future in gathered if future.set_running_or_notify_cancel()]
            if not batch:
                continue
            runner = threading.get_ident()
            with self._lock:
                self._running[runner] = time.monotonic()
            try:
                self._run_batch(batch)
            finally:
                with self._lock:
                    del self._running[runner]

    def _run_batch(self, batch: list[tuple[In, Future[Out]]]) -> None:
        """Run the batch; if it fails, run its items one at a time, so that an item the model cannot
        take fails only its own caller."""
        try:
            outputs = self._run([item for item, _ in batch])
        except BaseException as exc:  # noqa: BLE001 - handed to the callers
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
            else:
                for entry in batch:
                    self._run_batch([entry])
            return
        with self._lock:
            self.batches_run += 1
        for (_, future), output in zip(batch, outputs, strict=True):
            future.set_result(output)

    def _runner_done(self) -> None:
        with self._lock:
            self._live_runners -= 1
            last = self._live_runners == 0
        if last and self._on_close is not None:
            self._on_close()

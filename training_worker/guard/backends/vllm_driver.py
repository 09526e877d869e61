"""One thread owns the vLLM engine; any thread may hand it requests and wait for their outputs.

`LLM.generate` runs the engine until every request in it has finished, so a caller that arrives
while another call is in flight waits for that whole call. The driver instead adds requests as they
come and steps the engine in one loop: an arrival joins the running batch at the next engine step,
and each caller gets its own outputs as soon as they are done. vLLM's engine is not thread-safe;
only the driver's thread touches it.

An error of a `fatal` type (the engine process has stopped) fails every caller, then and after, with
`BackendDead`: the engine cannot take requests again, and its model must be loaded anew.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from training_worker.guard.backends.base import BackendDead


@dataclass
class _Job:
    prompts: Sequence[Any]
    params: Any  # one SamplingParams for all prompts, or one per prompt
    future: Future[list[Any]] = field(default_factory=Future)
    outputs: list[Any] = field(default_factory=list)
    remaining: int = 0


class EngineDriver:
    def __init__(self, llm: Any, *, fatal: tuple[type[BaseException], ...] = ()) -> None:
        self._llm = llm
        self._fatal = fatal
        self.failure: str | None = None  # why the engine can no longer run, once it cannot
        self._inbox: queue.Queue[_Job | None] = queue.Queue()
        self._waiting: dict[str, tuple[_Job, int]] = {}  # request id -> its job and its place in the job
        self._stopping = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="vllm-engine", daemon=True)
        self._thread.start()

    def run(self, prompts: Sequence[Any], params: Any, *, timeout: float | None = None) -> list[Any]:
        """The engine's finished outputs for `prompts`, in their order."""
        if not prompts:
            return []
        if self.failure is not None:
            raise BackendDead(self.failure)
        if self._closed:
            raise RuntimeError("the vLLM engine driver is closed")
        job = _Job(prompts=prompts, params=params)
        self._inbox.put(job)
        return job.future.result(timeout=timeout)

    @property
    def in_flight(self) -> int:
        """Requests in the engine now (read from other threads: a snapshot)."""
        return len(self._waiting)

    def close(self, timeout: float | None = None) -> None:
        """Finish the requests already handed in, then stop the thread; returns when it has stopped."""
        self._closed = True
        self._inbox.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        engine = self._llm.llm_engine
        while not (self._stopping and not self._waiting):
            self._take(block=not self._waiting)
            if not self._waiting:
                continue
            try:
                finished = [output for output in engine.step() if output.finished]
            except Exception as exc:  # noqa: BLE001 - every waiting caller gets the engine's error
                self._fail_all(self._judged(exc))
                continue
            for output in finished:
                self._deliver(output)
        self._refuse_late_jobs()

    def _refuse_late_jobs(self) -> None:
        """A job handed in as the driver closed would otherwise wait for ever."""
        while True:
            try:
                job = self._inbox.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                job.future.set_exception(RuntimeError("the vLLM engine driver is closed"))

    def _take(self, *, block: bool) -> None:
        """Add the jobs in the inbox to the engine; wait for one first when the engine is idle."""
        while True:
            try:
                job = self._inbox.get(block=block and not self._stopping)
            except queue.Empty:
                return
            block = False
            if job is None:
                self._stopping = True
                continue
            self._add(job)

    def _add(self, job: _Job) -> None:
        try:
            ids = self._llm.enqueue(list(job.prompts), job.params, use_tqdm=False)
        except Exception as exc:  # noqa: BLE001 - a request the engine refuses fails its caller only
            job.future.set_exception(self._judged(exc))
            return
        job.outputs = [None] * len(ids)
        job.remaining = len(ids)
        for index, request_id in enumerate(ids):
            self._waiting[_external_id(request_id)] = (job, index)

    def _judged(self, exc: Exception) -> Exception:
        """The error to hand callers: a fatal one becomes `BackendDead`, and stays the driver's answer."""
        if not isinstance(exc, self._fatal):
            return exc
        if self.failure is None:
            self.failure = f"the vLLM engine process stopped ({type(exc).__name__}: {exc})"
        dead = BackendDead(self.failure)
        dead.__cause__ = exc
        return dead

    def _deliver(self, output: Any) -> None:
        entry = self._waiting.pop(str(output.request_id), None)
        if entry is None:
            return
        job, index = entry
        job.outputs[index] = output
        job.remaining -= 1
        if job.remaining == 0:
            job.future.set_result(job.outputs)

    def _fail_all(self, exc: BaseException) -> None:
        jobs = {id(job): job for job, _ in self._waiting.values()}
        with contextlib.suppress(Exception):
            self._llm.llm_engine.abort_request(list(self._waiting), internal=False)
        self._waiting.clear()
        for job in jobs.values():
            if not job.future.done():
                job.future.set_exception(exc)


def _external_id(request_id: Any) -> str:
    """The id outputs carry: `LLM` numbers its requests, and the engine returns that number with a
    random suffix of its own (`"7-1a2b3c4d"`), while each output names the number alone.

    >>> _external_id("7-1a2b3c4d"), _external_id("7")
    ('7', '7')
    """
    return str(request_id).split("-", 1)[0]

"""Load on the moderation API: N concurrent clients for T seconds, and the API's overhead over the guard.

Two phases run against one running stack with the same N, alternating in short rounds:

- `guard`: N threads drive the guard worker without HTTP. Each records a pending decision through the
  product's own service (as the API does) and waits on its Celery task, so the worker does exactly
  the work an API call gives it. This is the guard's batched throughput at concurrency N.
- `http`: N clients call `POST /api/v1/moderate` (synchronous) and wait for the decision.

It prints one JSON document with, per phase, items/s, p50/p95/p99 end-to-end latency, the error rate
and errors by status, the overhead (end-to-end minus the decision's own `inference_ms`) and the queue
wait, then the ratios against the targets. Logs go to stderr. The guard phase talks to the stack's
database and broker, so run it with the stack's settings (the same environment variables as
`make run`); see bench/README.md:

    VAR_DIR=var/bench .venv/bin/python bench/api_load.py --url http://127.0.0.1:8131 --clients 8 --duration 30
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import logging
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA_CSV = REPO.parent / "shared" / "data" / "jbb_behaviors.csv"
TARGETS = {
    # From the issue: the API adds at most 10 ms at the median, and keeps 90% of the guard's throughput.
    "overhead_p50_ms": {"max": 10.0},
    "http_vs_guard_items_s": {"min": 0.9},
}
PHASES = {"guard", "http", "http-httpx"}
BENCH_KEY_RATE_PER_MINUTE = 10_000_000  # the bench's own key must never be throttled

log = logging.getLogger("bench.api_load")


@dataclass
class Arguments:
    url: str = field(default="http://127.0.0.1:8000", metadata={"help": "base URL of the running stack"})
    key: str | None = field(
        default=None, metadata={"help": "API key; default: a new one from `manage.py create_api_key`"}
    )
    clients: int = field(default=8, metadata={"help": "concurrent clients (threads) in each phase"})
    duration: float = field(default=30.0, metadata={"help": "timed seconds per phase"})
    rounds: int = field(default=3, metadata={"help": "the phases alternate in this many slices of duration/rounds"})
    warmup: float = field(default=3.0, metadata={"help": "seconds of the same load before each phase, not counted"})
    reasoning: str = field(default="none", metadata={"help": "none or full", "choices": ("none", "full")})
    policy: str = field(default="core-safety", metadata={"help": "policy slug (the new key's default policy)"})
    phases: str = field(
        default="guard,http", metadata={"help": "comma-separated: guard, http, and http-httpx (http through httpx)"}
    )
    data: Path = field(default=DATA_CSV, metadata={"help": "CSV with a prompt column, cycled"})
    timeout: float = field(default=120.0, metadata={"help": "per-request client timeout, seconds"})
    out: Path | None = field(default=None, metadata={"help": "also write the JSON to this file"})


@dataclass
class Sample:
    """One request: its end-to-end time and, when it succeeded, the decision's own timings."""

    started: float
    e2e_ms: float
    status: str  # "ok", an HTTP status, or an exception name
    inference_ms: float | None = None
    queue_ms: float | None = None
    decision_ms: float | None = None  # the decision's created_at -> completed_at


# --- arguments ------------------------------------------------------------------------------------

OPTION_TYPES: dict[str, Callable[[str], Any]] = {
    "clients": int,
    "rounds": int,
    "duration": float,
    "warmup": float,
    "timeout": float,
    "data": Path,
    "out": Path,
}


def parse_args(argv: Sequence[str] | None = None) -> Arguments:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    for spec in dataclasses.fields(Arguments):
        option = "--" + spec.name.replace("_", "-")
        kind = OPTION_TYPES.get(spec.name, str)
        parser.add_argument(
            option, type=kind, default=spec.default, help=spec.metadata["help"], choices=spec.metadata.get("choices")
        )
    args = Arguments(**vars(parser.parse_args(argv)))
    if args.clients < 1 or args.rounds < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--clients and --rounds must be at least 1, --duration above 0, --warmup at least 0")
    unknown = set(phase_names(args)) - PHASES
    if unknown or not phase_names(args):
        parser.error(f"--phases takes {', '.join(sorted(PHASES))}, not {sorted(unknown) or 'nothing'}")
    return args


def phase_names(args: Arguments) -> list[str]:
    return [p.strip() for p in args.phases.split(",") if p.strip()]


# --- setup ----------------------------------------------------------------------------------------


def setup_django() -> None:
    """The guard phase uses the product's models and Celery app with the stack's own settings."""
    import django
    from django.apps import apps

    if apps.ready:  # already set up (inside the test suite)
        return
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


def load_prompts(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        prompts = [row["prompt"] for row in csv.DictReader(handle) if row.get("prompt")]
    if not prompts:
        raise SystemExit(f"{path} has no prompts")
    return prompts


def create_key(policy: str) -> str:
    from django.core.management import call_command

    token, notes = io.StringIO(), io.StringIO()
    call_command(
        "create_api_key",
        f"bench-api-load-{int(time.time())}",
        policy=policy,
        rate_limit=BENCH_KEY_RATE_PER_MINUTE,
        stdout=token,
        stderr=notes,
    )
    log.info("%s", notes.getvalue().strip())
    return token.getvalue().strip()


# --- measuring ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 2)


def spread(values: Sequence[float]) -> dict[str, float | None]:
    return {f"p{q}_ms": percentile(values, q) for q in (50, 95, 99)}


Send = Callable[[str], Sample]


def drive(make_sender: Callable[[], Send], prompts: list[str], *, clients: int, seconds: float) -> list[Sample]:
    """`clients` closed-loop threads, each sending its next prompt when the last one is answered."""
    from django.db import connections

    samples: list[Sample] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        send = make_sender()
        position = index * len(prompts) // clients  # clients start at different prompts
        mine: list[Sample] = []
        while time.perf_counter() < deadline:
            mine.append(send(prompts[position % len(prompts)]))
            position += 1
        with lock:
            samples.extend(mine)
        connections.close_all()  # the guard phase's database connection belongs to this thread

    threads = [threading.Thread(target=client, args=(i,), name=f"bench-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def run_phases(senders: dict[str, Callable[[], Send]], prompts: list[str], args: Arguments) -> dict[str, Any]:
    """Warm each phase up, then alternate them in `rounds` slices of duration/rounds each.

    Alternating puts whatever else the machine does at the time into both phases alike, which
    matters for a ratio of two throughputs taken on a shared machine.
    """
    for name, make_sender in senders.items():
        if args.warmup:
            log.info("%s: warm-up, %d clients for %.1fs", name, args.clients, args.warmup)
            drive(make_sender, prompts, clients=args.clients, seconds=args.warmup)
    samples: dict[str, list[Sample]] = {name: [] for name in senders}
    seconds = dict.fromkeys(senders, 0.0)
    for round_ in range(args.rounds):
        for name, make_sender in senders.items():
            log.info("%s: round %d/%d, %d clients", name, round_ + 1, args.rounds, args.clients)
            began = time.perf_counter()
            samples[name] += drive(make_sender, prompts, clients=args.clients, seconds=args.duration / args.rounds)
            seconds[name] += time.perf_counter() - began  # until the last answer, after the slice's end
    reports = {name: summarise(samples[name], seconds[name]) for name in senders}
    for name, report in reports.items():
        log.info(
            "%s: %.2f items/s, p50 %s ms, overhead p50 %s ms, errors %s",
            name,
            report["items_per_s"],
            report["latency"]["p50_ms"],
            report["overhead"]["p50_ms"],
            report["errors_by_status"],
        )
    return reports


def summarise(samples: list[Sample], seconds: float) -> dict[str, Any]:
    ok = [s for s in samples if s.status == "ok"]
    timed = [s for s in ok if s.inference_ms is not None]
    return {
        "requests": len(samples),
        "ok": len(ok),
        "seconds": round(seconds, 3),
        "items_per_s": round(len(ok) / seconds, 3) if seconds > 0 else 0.0,
        "error_rate": round((len(samples) - len(ok)) / len(samples), 4) if samples else None,
        "errors_by_status": dict(Counter(s.status for s in samples if s.status != "ok")),
        "latency": spread([s.e2e_ms for s in ok]),
        "inference": spread([s.inference_ms for s in timed if s.inference_ms is not None]),
        "overhead": spread([s.e2e_ms - (s.inference_ms or 0.0) for s in timed]),
        "queue_wait": spread([s.queue_ms for s in timed if s.queue_ms is not None]),
        # In the worker, outside the model call: loading the row, the micro-batcher's wait, writing the result.
        "worker_other": spread(
            [s.decision_ms - (s.queue_ms or 0.0) - (s.inference_ms or 0.0) for s in timed if s.decision_ms is not None]
        ),
        # Outside the decision's lifetime: HTTP, auth and validation before the row exists, the wait for
        # the worker's answer after it is complete, and the response.
        "outside_decision": spread([s.e2e_ms - s.decision_ms for s in timed if s.decision_ms is not None]),
        # Everything but the guard task's own run (task start -> decision complete): the request's path
        # to the worker and back. The overhead less this is time spent inside the guard worker.
        "outside_guard_task": spread(
            [s.e2e_ms - s.decision_ms + (s.queue_ms or 0.0) for s in timed if s.decision_ms is not None]
        ),
        # One model call times all of its items alike, so equal inference_ms values mark one batch.
        "mean_batch_size": round(len(timed) / len({s.inference_ms for s in timed}), 2) if timed else None,
    }


# --- the two phases -------------------------------------------------------------------------------


class StdlibPost:
    """One keep-alive connection per client, through the standard library: the load generator's own
    Python per request stays small, so what `latency` holds beyond the API is the network, not the client."""

    def __init__(self, url: str, key: str, timeout: float) -> None:
        import http.client
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        self.prefix = parts.path.rstrip("/")
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def __call__(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        try:
            self.connection.request("POST", self.prefix + path, json.dumps(body).encode(), self.headers)
            response = self.connection.getresponse()
            data = response.read()
        except Exception:
            self.connection.close()  # the next request opens a new connection
            raise
        return response.status, json.loads(data) if response.status == 200 else None


class HttpxPost:
    """The same request through httpx, a common Python client with more of its own work per request."""

    def __init__(self, url: str, key: str, timeout: float) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=url.rstrip("/"), headers={"Authorization": f"Bearer {key}"}, timeout=timeout
        )

    def __call__(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        response = self.client.post(path, json=body)
        return response.status_code, response.json() if response.status_code == 200 else None


HTTP_CLIENTS: dict[str, Callable[[str, str, float], Callable[[str, dict[str, Any]], tuple[int, Any]]]] = {
    "http": StdlibPost,
    "http-httpx": HttpxPost,
}


def http_sender(args: Arguments, key: str, client: str = "http") -> Callable[[], Send]:
    def make() -> Send:
        post = HTTP_CLIENTS[client](args.url, key, args.timeout)

        def send(prompt: str) -> Sample:
            started = time.perf_counter()
            try:
                status, body = post("/api/v1/moderate", {"input": prompt, "reasoning": args.reasoning})
            except Exception as exc:  # noqa: BLE001 - a refused or broken connection is this sample's outcome
                return Sample(started, (time.perf_counter() - started) * 1000, type(exc).__name__)
            e2e_ms = (time.perf_counter() - started) * 1000
            if status != 200:
                return Sample(started, e2e_ms, str(status))
            return Sample(started, e2e_ms, "ok", body["inference_ms"], body["queue_ms"], body["latency_ms"])

        return send

    return make


def guard_sender(args: Arguments) -> Callable[[], Send]:
    from celery.result import AsyncResult

    from config.celery import app
    from moderation_app.models import Decision
    from moderation_app.services import ModerationInput, decision_record
    from policies_app.models import Policy

    policy = Policy.objects.select_related("published_version").get(slug=args.policy)
    version = policy.published_version
    if version is None:
        raise SystemExit(f"policy {args.policy!r} has no published version")

    def send(prompt: str) -> Sample:
        started = time.perf_counter()
        decision, _ = decision_record(
            api_key=None,
            actor=None,
            policy_version=version,
            request=ModerationInput(
                messages=[{"role": "user", "content": prompt}], target="prompt", reasoning=args.reasoning
            ),
        )
        try:
            # A short interval only matters to result backends that poll (the embedded file backend).
            AsyncResult(str(decision.id), app=app).get(timeout=args.timeout, interval=0.005, propagate=False)
        except Exception as exc:  # noqa: BLE001 - a timeout or backend error is this sample's outcome
            return Sample(started, (time.perf_counter() - started) * 1000, type(exc).__name__)
        e2e_ms = (time.perf_counter() - started) * 1000
        decision.refresh_from_db()
        if decision.status != Decision.Status.COMPLETED:
            return Sample(started, e2e_ms, str(decision.status))
        return Sample(started, e2e_ms, "ok", decision.inference_ms, decision.queue_ms, decision.latency_ms)

    return lambda: send


# --- report ---------------------------------------------------------------------------------------


def targets(phases: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    http, guard = phases.get("http"), phases.get("guard")
    overhead = http["overhead"]["p50_ms"] if http else None
    ratio = None
    if http and guard and guard["items_per_s"]:
        ratio = round(http["items_per_s"] / guard["items_per_s"], 3)
    ratios = {"http_vs_guard_items_s": ratio}
    return ratios, {
        "overhead_p50_ms": {
            "value": overhead,
            "target_max": TARGETS["overhead_p50_ms"]["max"],
            "met": None if overhead is None else overhead <= TARGETS["overhead_p50_ms"]["max"],
        },
        "http_vs_guard_items_s": {
            "value": ratio,
            "target_min": TARGETS["http_vs_guard_items_s"]["min"],
            "met": None if ratio is None else ratio >= TARGETS["http_vs_guard_items_s"]["min"],
        },
    }


def stack_info(args: Arguments) -> dict[str, Any]:
    import httpx
    from django.conf import settings

    info: dict[str, Any] = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "broker": settings.CELERY_BROKER_URL.split(":", 1)[0],
        "result_backend": str(settings.CELERY_RESULT_BACKEND).split(":", 1)[0],
        "guard_max_batch": settings.GUARD_MAX_BATCH,
        "guard_max_wait_ms": settings.GUARD_MAX_WAIT_MS,
        # DEBUG records every query the web and workers make (read here from this process's settings).
        "debug": settings.DEBUG,
    }
    try:
        ready = httpx.get(args.url.rstrip("/") + "/readyz", timeout=10).json()
        info["guard_worker"] = ready.get("checks", {}).get("guard_worker")
    except (httpx.HTTPError, ValueError) as exc:
        info["guard_worker"] = f"/readyz unreadable: {exc}"
    return info


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    setup_django()
    prompts = load_prompts(args.data)
    load_at_start = os.getloadavg()
    key = args.key or (create_key(args.policy) if set(phase_names(args)) & set(HTTP_CLIENTS) else "")
    senders = {
        name: guard_sender(args) if name == "guard" else http_sender(args, key, name) for name in phase_names(args)
    }
    phases = run_phases(senders, prompts, args)
    ratios, met = targets(phases)
    report = {
        "config": {
            "url": args.url,
            "clients": args.clients,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "reasoning": args.reasoning,
            "policy": args.policy,
            "prompts": len(prompts),
            "data": str(args.data),
            "overhead": "end-to-end latency minus the decision's inference_ms (the guard's model call)",
        },
        "machine": {"cpu_count": os.cpu_count(), "load_average_at_start": load_at_start},
        "stack": stack_info(args),
        "phases": phases,
        "ratios": ratios,
        "targets": met,
    }
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return report


if __name__ == "__main__":
    main()

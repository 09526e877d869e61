"""bench/api_load.py runs end to end: a live server, a real guard worker on a tiny model, both phases."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from policies_app.services import policy_ensure_default

pytestmark = pytest.mark.django_db(transaction=True)

BENCH = Path(__file__).resolve().parents[1] / "bench" / "api_load.py"
PERCENTILES = {"p50_ms", "p95_ms", "p99_ms"}


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_api_load", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_it_reports_every_figure_of_both_phases_without_errors(
    live_server: Any, guard_worker: Any, active_tiny_model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_ensure_default()
    bench = load_bench()

    returned = bench.main(["--url", live_server.url, "--clients", "2", "--duration", "2", "--warmup", "0.5"])

    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(returned))
    for name in ("guard", "http"):
        phase = printed["phases"][name]
        assert phase["ok"] > 0
        assert phase["error_rate"] == 0
        assert phase["errors_by_status"] == {}
        assert phase["items_per_s"] > 0
        assert phase["mean_batch_size"] >= 1
        figures = ("latency", "inference", "overhead", "queue_wait", "worker_other", "outside_decision")
        for figure in (*figures, "outside_guard_task"):
            assert set(phase[figure]) == PERCENTILES
            assert all(value is not None for value in phase[figure].values()), (name, figure)
    assert printed["ratios"]["http_vs_guard_items_s"] > 0
    assert set(printed["targets"]) == {"overhead_p50_ms", "http_vs_guard_items_s"}
    assert all(isinstance(target["met"], bool) for target in printed["targets"].values())
    assert printed["config"]["clients"] == 2


def test_both_http_clients_reach_the_api_and_a_refused_connection_is_an_error(
    live_server: Any, guard_worker: Any, active_tiny_model: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    policy_ensure_default()
    bench = load_bench()

    report = bench.main(
        ["--url", live_server.url, "--clients", "1", "--duration", "1", "--warmup", "0", "--phases", "http,http-httpx"]
    )

    for name in ("http", "http-httpx"):
        assert report["phases"][name]["ok"] > 0
        assert report["phases"][name]["error_rate"] == 0
    send = bench.http_sender(bench.parse_args(["--url", "http://127.0.0.1:1"]), "no-key")()
    assert send("hello").status == "ConnectionRefusedError"

#!/usr/bin/env python3
"""Runs every process of a Procfile in the foreground, as `make run` does.

Each process gets its own process group, so stopping it stops everything it started too (Celery
pool children, the vLLM engine process). Ctrl-C or SIGTERM stops all of them: SIGTERM to each
group, then SIGKILL to what is left after the grace period. A process that exits by itself after
running at least `--restart-after` seconds is started again, up to `--max-restarts` times (a worker
that lost its broker for good, say); one that exits sooner, or once more, stops the others too, so
nothing keeps running half-configured. Standard library only.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PR_SET_PDEATHSIG = 1
COLOURS = ("36", "33", "32", "35", "34", "31")


@dataclass
class Proc:
    name: str
    command: str
    popen: subprocess.Popen[bytes] | None = None
    pump: threading.Thread | None = None
    started_at: float = 0.0
    restarts: int = 0


def parse_procfile(path: Path) -> list[Proc]:
    procs = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if not match:
            raise SystemExit(f"{path}: cannot read line: {raw!r}")
        procs.append(Proc(match.group(1), match.group(2)))
    return procs


def _die_with_parent() -> None:
    # If the supervisor itself is killed with SIGKILL, the kernel still stops each child.
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _pump(proc: Proc, width: int, colour: str) -> None:
    assert proc.popen is not None
    assert proc.popen.stdout is not None
    prefix = f"\033[{colour}m{proc.name:<{width}} |\033[0m " if sys.stdout.isatty() else f"{proc.name:<{width}} | "
    for line in iter(proc.popen.stdout.readline, b""):
        sys.stdout.write(prefix + line.decode("utf-8", "replace"))
        sys.stdout.flush()


def start(procs: list[Proc]) -> None:
    for proc in procs:
        launch(proc, procs)


def launch(proc: Proc, procs: list[Proc]) -> None:
    width = max(len(p.name) for p in procs)
    proc.popen = subprocess.Popen(
        ["bash", "-c", f"exec {proc.command}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    proc.started_at = time.monotonic()
    colour = COLOURS[procs.index(proc) % len(COLOURS)]
    proc.pump = threading.Thread(target=_pump, args=(proc, width, colour), daemon=True)
    proc.pump.start()
    print(f"started {proc.name} (pid {proc.popen.pid}): {proc.command}", flush=True)


def restart_if_due(proc: Proc, procs: list[Proc], *, after_s: float, most: int) -> bool:
    """Start a process that exited again, if it had run `after_s` and has restarts left."""
    assert proc.popen is not None
    ran = time.monotonic() - proc.started_at
    if ran < after_s or proc.restarts >= most:
        return False
    proc.restarts += 1
    print(
        f"{proc.name} exited with status {proc.popen.returncode} after {ran:.0f}s; "
        f"starting it again ({proc.restarts} of {most})",
        flush=True,
    )
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.popen.pid, signal.SIGKILL)  # what it started and left behind
    launch(proc, procs)
    return True


def _signal_groups(procs: list[Proc], sig: signal.Signals) -> None:
    for proc in procs:
        if proc.popen is None:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.popen.pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(procs: list[Proc], grace_s: float) -> None:
    _signal_groups(procs, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    pgids = [p.popen.pid for p in procs if p.popen is not None]
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.popen is not None:
                proc.popen.poll()
        if not any(_group_alive(pgid) for pgid in pgids):
            return
        time.sleep(0.1)
    left = [p.name for p in procs if p.popen is not None and _group_alive(p.popen.pid)]
    print(f"still running after {grace_s:.0f}s, killing: {', '.join(left)}", flush=True)
    _signal_groups(procs, signal.SIGKILL)
    for proc in procs:
        if proc.popen is not None:
            proc.popen.wait()


def wait_ready(url: str, banner: str, procs: list[Proc], stopping: threading.Event) -> None:
    while not stopping.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    print(banner, flush=True)
                    return
        except OSError:
            pass
        stopping.wait(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("procfile", type=Path)
    parser.add_argument("--only", help="comma-separated process names to run (default: all)")
    parser.add_argument("--grace", type=float, default=20.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument(
        "--restart-after", type=float, default=60.0, help="restart a process that exits after running this long"
    )
    parser.add_argument("--max-restarts", type=int, default=5, help="restarts per process before stopping all")
    parser.add_argument("--ready-url", help="print --banner once this URL answers 200")
    parser.add_argument("--banner", default="", help="text to print when --ready-url answers")
    args = parser.parse_args(argv)

    procs = parse_procfile(args.procfile)
    if args.only:
        wanted = set(args.only.split(","))
        procs = [p for p in procs if p.name in wanted]
    if not procs:
        raise SystemExit("no processes to run")

    stopping = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    start(procs)
    if args.ready_url:
        threading.Thread(target=wait_ready, args=(args.ready_url, args.banner, procs, stopping), daemon=True).start()

    exited: Proc | None = None
    while not stopping.is_set():
        for proc in procs:
            if proc.popen is None or proc.popen.poll() is None:
                continue
            if restart_if_due(proc, procs, after_s=args.restart_after, most=args.max_restarts):
                continue
            exited = proc
            stopping.set()
            break
        stopping.wait(0.2)

    if exited is not None and exited.popen is not None:
        print(f"{exited.name} exited with status {exited.popen.returncode}; stopping the others", flush=True)
    else:
        print("stopping all processes", flush=True)
    stop(procs, args.grace)
    for proc in procs:  # let the last lines of output through before saying we are done
        if proc.pump is not None:
            proc.pump.join(timeout=2)
    print("all processes stopped", flush=True)
    if exited is not None:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

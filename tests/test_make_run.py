"""`make run` as a new user runs it: one command, the platform answers, the printed login works,
and Ctrl-C leaves nothing behind. Uses the embedded defaults (SQLite, filesystem broker)."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _get(url: str, timeout: float = 5) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_make_run_serves_the_platform_and_ctrl_c_stops_it(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CACHE_URL", "DJANGO_ENV"}
        and not k.startswith(("MAKE", "MFLAGS"))
    }
    env.update(PORT=str(port), VAR_DIR=str(tmp_path / "var"), MODEL_STORE=str(ROOT / "var" / "models"))
    make = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    banner = threading.Event()
    started: set[int] = set()

    def read() -> None:
        assert make.stdout is not None
        for line in make.stdout:
            lines.append(line)
            if "Arbiter is up at" in line:
                banner.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert banner.wait(300), "".join(lines[-60:])
        text = "".join(lines)
        match = re.search(r"login: admin / (\S+)\)", text)
        assert match, text[-3000:]
        password = match.group(1)
        assert password != "admin"
        base = f"http://127.0.0.1:{port}"
        assert _get(f"{base}/healthz") == (200, {"status": "ok"})

        deadline, status = time.monotonic() + 120, 0
        body: dict[str, object] = {}
        while time.monotonic() < deadline:
            status, body = _get(f"{base}/readyz", timeout=10)
            if status == 200:
                break
            time.sleep(1)
        assert status == 200, body

        request = urllib.request.Request(
            f"{base}/api/v1/auth/login",
            data=json.dumps({"username": "admin", "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        session = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        with session.open(request, timeout=10) as response:
            assert response.status == 200
            assert json.loads(response.read())["is_superuser"] is True
        # The audit's category filter on SQLite, which has no JSON `contains`: the list and its CSV.
        with session.open(f"{base}/api/v1/decisions/?category=S1", timeout=10) as response:
            assert json.loads(response.read())["results"] == []
        with session.open(f"{base}/api/v1/decisions/export/?format=csv&category=S1", timeout=10) as response:
            assert response.read().decode().startswith("id,created_at,status,verdict")

        started = _descendants(make.pid)
        assert len(started) >= 5  # supervisor, web (+ gunicorn workers), guard, worker, train, beat
    finally:
        # What a terminal does on Ctrl-C: SIGINT to the foreground process group.
        os.killpg(make.pid, signal.SIGINT)
        make.wait(timeout=60)
    time.sleep(0.5)
    assert not [pid for pid in started if _alive(pid)], "".join(lines[-40:])
    assert "all processes stopped" in "".join(lines)

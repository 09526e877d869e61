"""`make run`'s supervisor: one foreground command, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUPERVISE = ROOT / "platform" / "supervise.py"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def _wait_for(path: Path, lines: int, timeout: float = 20) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            pids = [int(x) for x in path.read_text().split()]
            if len(pids) >= lines:
                return pids
        time.sleep(0.1)
    raise AssertionError(f"processes did not start: {path.read_text() if path.exists() else 'no pid file'}")


def _procfile(tmp_path: Path, pids: Path) -> Path:
    procfile = tmp_path / "Procfile"
    # `parent` starts a grandchild, as a Celery worker or the vLLM engine does; `stubborn` ignores SIGTERM.
    procfile.write_text(
        f"parent: bash -c 'sleep 300 & echo $! >> {pids}; echo $$ >> {pids}; wait'\n"
        f"stubborn: bash -c 'trap \"\" TERM; echo $$ >> {pids}; while true; do sleep 0.2; done'\n"
        f"plain: bash -c 'echo $$ >> {pids}; exec sleep 300'\n"
    )
    return procfile


def test_ctrl_c_stops_every_process_and_grandchild(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    supervisor = subprocess.Popen(
        [sys.executable, str(SUPERVISE), str(_procfile(tmp_path, pids_file)), "--grace", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    pids = _wait_for(pids_file, 4)
    assert all(_alive(pid) for pid in pids)
    supervisor.send_signal(signal.SIGINT)
    output, _ = supervisor.communicate(timeout=30)
    assert supervisor.returncode == 0, output
    assert "all processes stopped" in output
    assert "killing: stubborn" in output
    assert not [pid for pid in pids if _alive(pid)]


def test_one_process_exiting_stops_the_others(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"long: bash -c 'echo $$ >> {pids_file}; exec sleep 300'\nshort: bash -c 'sleep 1; exit 3'\n")
    result = subprocess.run(
        [sys.executable, str(SUPERVISE), str(procfile), "--grace", "2"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert "short exited with status 3; stopping the others" in result.stdout
    assert not _alive(_wait_for(pids_file, 1)[0])


def test_a_process_that_exits_after_running_a_while_is_started_again_a_few_times(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    procfile = tmp_path / "Procfile"
    procfile.write_text(f"long: bash -c 'exec sleep 300'\nflaky: bash -c 'echo $$ >> {pids_file}; sleep 1.2; exit 3'\n")
    result = subprocess.run(
        [sys.executable, str(SUPERVISE), str(procfile), "--grace", "2", "--restart-after", "1", "--max-restarts", "2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "flaky exited with status 3 after 1s; starting it again (1 of 2)" in result.stdout
    assert "starting it again (2 of 2)" in result.stdout
    assert "flaky exited with status 3; stopping the others" in result.stdout  # out of restarts
    assert len(_wait_for(pids_file, 3)) == 3


def test_output_lines_carry_the_process_name(tmp_path: Path) -> None:
    procfile = tmp_path / "Procfile"
    procfile.write_text("hello: echo hi from hello\n")
    result = subprocess.run([sys.executable, str(SUPERVISE), str(procfile)], capture_output=True, text=True, timeout=30)
    assert "hello | hi from hello" in result.stdout

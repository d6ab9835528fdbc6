"""The command line reaches the running instance through its control socket; with none
running it works in-process and the running instance delivers its events at the next start."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.audio import make_mp3
from tests.support.homeserver import free_port
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
WAVEPOOL = [sys.executable, "-m", "bots.cli"]
RUNNING = "done by the running instance"
NOT_RUNNING = "no instance is running"


def _env(data: Path, port: int = 0) -> dict[str, str]:
    env = {**os.environ, "WAVEPOOL_DATA_DIR": str(data), "WAVEPOOL_HTTP_PORT": str(port)}
    env.pop("WAVEPOOL_CONFIG", None)
    return env


def wavepool(data: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*WAVEPOOL, *args], capture_output=True, text=True, env=_env(data), timeout=120, cwd=cwd)
    assert done.returncode == 0, f"wavepool {' '.join(args)}: {done.stdout}\n{done.stderr}"
    return done


def _wait(check: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    wait_until(check, timeout_s, what, poll_s=0.05)


@contextmanager
def instance(data: Path) -> Iterator[subprocess.Popen[str]]:
    """``wavepool run`` on ``data`` until its control socket answers; SIGKILLed if still running at the end."""
    proc = subprocess.Popen(
        [*WAVEPOOL, "run"],
        env=_env(data, free_port()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        _wait(lambda: (data / "control.sock").exists() or proc.poll() is not None, "the control socket")
        assert proc.poll() is None, proc.communicate()[0]
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=20)


def _db(data: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{data / 'wavepool.sqlite3'}?mode=ro", uri=True) as conn:
        return list(conn.execute(sql))


def _scheduler_caught_up(data: Path) -> bool:
    last = _db(data, "SELECT max(seq) FROM events")[0][0]
    done = _db(data, "SELECT seq FROM event_checkpoints WHERE subscriber = 'scheduler'")
    return bool(done) and done[0][0] == last


def test_terminal_commands_run_in_the_running_instance(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_mp3(tmp_path / "night.mp3", seconds=3, seed=5)
    with instance(data) as proc:
        assert stat.S_IMODE((data / "control.sock").stat().st_mode) == 0o600
        started = wavepool(data, "cmd", "round", "start", "Night drive", "--submit", "1m", "--vote", "1m")
        assert RUNNING in started.stderr and "Round #1" in started.stdout
        shared = wavepool(data, "ingest", "night.mp3", "--by", "alice", "--genre", "synthwave", cwd=tmp_path)
        assert RUNNING in shared.stderr and "Added to the pool" in shared.stdout  # a path relative to the caller
        # the running instance's scheduler heard of both at once (it arms the round's deadlines)
        _wait(lambda: _scheduler_caught_up(data), "the running scheduler to take the new events")
        kinds = [row[0] for row in _db(data, "SELECT kind FROM events ORDER BY seq")]
        assert kinds == ["round.started", "track.accepted"]
        closed = wavepool(data, "cmd", "round", "close", "1")
        assert RUNNING in closed.stderr
        _wait(lambda: _scheduler_caught_up(data), "the close to be delivered")
        assert "closed" in wavepool(data, "cmd", "round", "status", "1").stdout
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
    # nothing runs now: the same command works here, and says so
    status = wavepool(data, "cmd", "round", "status", "1")
    assert NOT_RUNNING in status.stderr and "closed" in status.stdout


def test_what_the_terminal_did_while_down_is_delivered_at_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    make_mp3(tmp_path / "a.mp3", seconds=3, seed=7)
    with instance(data):
        _wait(
            lambda: (
                bool(_db(data, "SELECT 1 FROM event_checkpoints WHERE subscriber = 'scheduler'"))
                or not _db(data, "SELECT 1 FROM events")
            ),
            "the scheduler to start",
        )
    shared = wavepool(data, "ingest", str(tmp_path / "a.mp3"), "--by", "bob")
    assert NOT_RUNNING in shared.stderr
    started = wavepool(data, "cmd", "round", "start", "Offline", "--submit", "1h", "--vote", "1h")
    assert NOT_RUNNING in started.stderr
    assert not _scheduler_caught_up(data)
    with instance(data):
        _wait(lambda: _scheduler_caught_up(data), "the events recorded while down to be delivered")


def test_a_second_instance_on_the_same_data_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with instance(data):
        second = subprocess.run(
            [*WAVEPOOL, "run"], env=_env(data, free_port()), capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert second.returncode != 0 and "already running" in second.stderr + second.stdout

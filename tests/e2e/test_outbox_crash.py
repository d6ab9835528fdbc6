"""The outbox across kill -9: between a state change and its delivery, between a delivery
and its checkpoint, and inside a transactional delivery. Each event is delivered; none twice."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = [sys.executable, "-m", "tests.support.outbox_child"]


def _until_said(data: Path, *args: str, words: str) -> None:
    """Run the child until it prints ``words``, then SIGKILL it there."""
    proc = subprocess.Popen([*CHILD, str(data), *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    for _ in range(100):
        line = proc.stdout.readline()
        if not line or line.startswith(words):
            break
    assert line.startswith(words), f"the child ended before {words!r}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=20)
    assert proc.returncode == -signal.SIGKILL


def _deliver(data: Path) -> None:
    done = subprocess.run([*CHILD, str(data), "deliver"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "done" in done.stdout, done.stderr


def _rows(path: Path, sql: str) -> list[tuple[int, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


def test_each_event_is_delivered_once_across_kills(tmp_path: Path) -> None:
    _until_said(tmp_path, "record", "5", words="recorded")  # killed after the changes, before any delivery
    assert _rows(tmp_path / "outbox.sqlite3", "SELECT count(*) FROM events") == [(5,)]
    _until_said(tmp_path, "deliver", "hang-after-delivery", words="delivered")  # posted, no checkpoint
    _until_said(tmp_path, "deliver", "hang-in-transaction", words="in transaction")  # rolled back
    _deliver(tmp_path)
    platform = tmp_path / "platform.sqlite3"
    assert _rows(platform, "SELECT seq FROM posts ORDER BY seq") == [(n,) for n in range(1, 6)]
    attempts = _rows(platform, "SELECT seq, count(*) FROM attempts GROUP BY seq HAVING count(*) > 1")
    assert attempts, "the kill after a delivery should have made the dispatcher deliver that event again"
    ledger = _rows(tmp_path / "outbox.sqlite3", "SELECT seq FROM ledger WHERE seq > 0 ORDER BY seq")
    assert ledger == [(n,) for n in range(1, 6)]  # exactly once: the killed transaction left nothing
    checkpoints = dict(_rows(tmp_path / "outbox.sqlite3", "SELECT subscriber, seq FROM event_checkpoints"))
    assert checkpoints == {"chat": 5, "ledger": 5}

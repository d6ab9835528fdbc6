"""WAL checkpoints run beside the commits, never inside one, and lose nothing."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from storage.sqlite.database import Database

ROWS = 3_000  # ~1,000+ WAL pages: SQLite's automatic checkpoint would have run inside some commit


async def _wait_for_checkpoint(db: Database, runs: int) -> None:
    for _ in range(200):  # bounded: 10 s
        if db._checkpoints.runs >= runs:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no checkpoint ran")


async def test_commits_leave_checkpoints_to_the_background(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path, migrations=())
    try:
        row = await db.fetchone("PRAGMA wal_autocheckpoint")
        assert row is not None and row[0] == 0  # no commit copies the WAL into the file itself
        await db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        size_before = path.stat().st_size
        for key in range(ROWS):
            async with db.transaction() as tx:
                await tx.execute("INSERT INTO t VALUES (?, ?)", (key, bytes(1500)))
        await _wait_for_checkpoint(db, 1)
        # A checkpoint copies committed pages into the database file: it grew while the
        # connection stayed open (with no checkpoint at all, every page would still be in the WAL).
        for _ in range(200):
            if path.stat().st_size > size_before + 1_000_000:
                break
            async with db.transaction() as tx:  # a later commit starts the next checkpoint
                await tx.execute("UPDATE t SET v = v WHERE k = 0")
            await asyncio.sleep(0.05)
        assert path.stat().st_size > size_before + 1_000_000
    finally:
        await db.close()
    with sqlite3.connect(path) as conn:  # nothing lost: every committed row is there
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (ROWS,)


_WRITER = """
import asyncio, sys, time
from pathlib import Path
from storage.sqlite.database import Database

async def main() -> None:
    db = await Database.open(Path(sys.argv[1]), migrations=())
    await db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB NOT NULL)")
    for key in range(2_000):
        async with db.transaction() as tx:
            await tx.execute("INSERT INTO t VALUES (?, ?)", (key, bytes(1500)))
    print("committed", flush=True)
    time.sleep(60)  # killed here, possibly in the middle of a checkpoint

asyncio.run(main())
"""


def test_commits_survive_kill_9_around_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "committed"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (2_000,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

"""kill -9 of a new instance while it replicates a room's history in pages and batches.

The history is taken in pages (``handle_tracks``: one commit per page) and fetched tracks are
recorded in batches (one commit per batch): a kill between them must lose no track and
record none twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.cid import cid_from_digest
from storage.sqlite.federation_store import SqliteFederationStore
from tests.support.federation import federation_room as make_federation_room
from tests.support.federation import publish_fast
from tests.support.homeserver import Homeserver
from tests.support.instances import running
from tests.support.waiting import eventually

TRACKS = 120
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse"))
    yield server
    server.stop()


def _count(database: Path, sql: str) -> int:
    """One number from C's database (read-only, while C runs); -1 before its schema exists."""
    if not database.exists():
        return -1
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # C is still creating its schema
            return -1


async def test_sigkill_mid_replication_of_history_loses_nothing_and_records_nothing_twice(
    synapse: Homeserver, tmp_path: Path
) -> None:
    _room, configs, _owner = make_federation_room(synapse, tmp_path, "ac")
    database = tmp_path / "c" / "wavepool.sqlite3"

    def start_c() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "--config", str(configs["c"]), "run"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async with running(configs["a"]) as a:
        work = tmp_path / "work"
        work.mkdir()
        ids = await publish_fast(a, TRACKS, work, 1_000_000)
        outbox = SqliteFederationStore(a.instance.db)

        async def published() -> bool:
            return not await outbox.outbox_pending(1)

        await eventually(published, 300, "A to publish every track")
        proc = start_c()  # a new instance: everything comes from the room's history
        try:

            async def some_recorded() -> bool:  # history read, first batch recorded, the rest on its way
                return _count(database, "SELECT count(*) FROM tracks") > 0

            try:
                await eventually(some_recorded, 120, "C to record its first batch", poll_s=0.002)
            finally:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            at_kill = _count(database, "SELECT count(*) FROM tracks")
            assert 0 < at_kill < TRACKS, f"the kill came after the whole replication ({at_kill} tracks)"
            for stored in (tmp_path / "c" / "pool" / "blobs").glob("*/*"):  # whole blobs or none
                assert cid_from_digest(hashlib.sha256(stored.read_bytes()).digest()) == stored.name

            proc = start_c()

            async def everything() -> bool:
                return _count(database, "SELECT count(*) FROM tracks") == TRACKS

            await eventually(everything, 180, "C to replicate the rest after the kill")
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    with contextlib.closing(sqlite3.connect(database)) as conn:
        recorded = {row[0] for row in conn.execute("SELECT id FROM tracks")}
        replicated = [row[0] for row in conn.execute("SELECT track_id FROM events WHERE kind = 'track.replicated'")]
        manifests = conn.execute("SELECT count(*) FROM fed_manifests").fetchone()[0]
        queued = conn.execute("SELECT count(*) FROM fed_queue").fetchone()[0]
    assert recorded == set(ids)
    assert sorted(replicated) == sorted(ids)  # one "replicated" event each: nothing recorded twice
    assert manifests == TRACKS and queued == 0

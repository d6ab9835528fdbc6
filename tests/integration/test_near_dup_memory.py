"""The near-duplicate band table in process memory: loaded from SQLite, kept in step with every commit.

Real SQLite files; fingerprints are random 32-bit items (a query with a track's own items
shares all its bands). The memory copy is checked by what lookups find once SQLite's
band rows are gone: from then on only memory can answer.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path

import pytest

import storage.sqlite.near_dup_bands as near_dup_bands
from core.model import Fingerprint, TrackId
from storage.sqlite import near_dup_index
from storage.sqlite.database import Database
from storage.sqlite.near_dup_index import SqliteNearDuplicateIndex, band_table
from storage.sqlite.near_dup_sweep import BandSweeper

REPO = Path(__file__).resolve().parents[2]


def _fp(seed: int) -> Fingerprint:
    rng = random.Random(seed)
    return Fingerprint(tuple(rng.getrandbits(32) for _ in range(240)), 30.0)


async def _found(index: SqliteNearDuplicateIndex, seed: int) -> list[str]:
    return [c.track_id for c in await index.candidates(_fp(seed))]


async def _indexed(db: Database, count: int) -> SqliteNearDuplicateIndex:
    """An index on ``db`` holding tracks t0..t{count-1} (fingerprint seeds 0..count-1)."""
    index = SqliteNearDuplicateIndex(db)
    for n in range(count):
        await index.add(TrackId(f"t{n}"), _fp(n))
    return index


async def _drop_sqlite_bands(db: Database) -> None:
    """Empty the band rows behind the index's back: lookups can only come from memory now."""
    await db.execute("DELETE FROM near_dup_bands")


async def _band_rows(db: Database) -> int:
    row = await db.fetchone("SELECT count(*) FROM near_dup_bands")
    return int(row[0]) if row else -1


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "index.sqlite3")
    try:
        yield database
    finally:
        await database.close()


async def test_lookups_come_from_memory_once_loaded_and_from_sqlite_before(db: Database) -> None:
    index = await _indexed(db, 20)
    assert await _found(index, 3) == ["t3"]  # not loaded: SQLite answers
    assert not band_table(db).ready
    assert await index.warm() == 20 * 32
    assert band_table(db).ready and await index.warm() == 0  # once
    await _drop_sqlite_bands(db)
    assert await _found(index, 3) == ["t3"]
    assert await _found(index, 999) == []
    index.close()


async def test_a_load_stopped_by_the_instance_gives_up_and_a_later_one_loads(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = await _indexed(db, 20)
    monkeypatch.setattr(near_dup_bands, "LOAD_ROWS", 16)  # many chunks: a stop is seen between two
    stop = threading.Event()
    stop.set()
    with pytest.raises(near_dup_bands.LoadStopped):
        near_dup_bands.read_packed(db.path, stop)
    assert await index.warm() == 20 * 32 and band_table(db).ready
    index.close()


async def test_every_index_object_on_a_database_shares_one_table(db: Database) -> None:
    loader, writer = SqliteNearDuplicateIndex(db), SqliteNearDuplicateIndex(db)
    await loader.warm()
    await writer.add(TrackId("a"), _fp(1))
    await _drop_sqlite_bands(db)
    assert await _found(loader, 1) == ["a"]
    loader.close()
    writer.close()


async def test_inserts_deletes_and_reindexing_after_the_load_are_seen(db: Database) -> None:
    index = await _indexed(db, 10)
    await index.warm()
    await index.remove(TrackId("t9"))  # the newest: SQLite gives its doc number to the next insert
    await index.add(TrackId("reuses-t9s-doc"), _fp(109))
    await index.add(TrackId("new"), _fp(100))
    await index.remove(TrackId("t4"))  # in the packed copy
    await index.add(TrackId("t5"), _fp(105))  # re-indexed with another sound
    await index.remove(TrackId("new"))  # in the recent changes
    await index.add(TrackId("new"), _fp(101))
    await _drop_sqlite_bands(db)
    assert await _found(index, 4) == []
    assert await _found(index, 5) == []
    assert await _found(index, 105) == ["t5"]
    assert await _found(index, 100) == []
    assert await _found(index, 101) == ["new"]
    assert await _found(index, 6) == ["t6"]
    assert await _found(index, 9) == []  # the packed copy's rows of that doc number are stale
    assert await _found(index, 109) == ["reuses-t9s-doc"]
    index.close()


async def test_a_rolled_back_delete_keeps_the_track_found(db: Database) -> None:
    index = SqliteNearDuplicateIndex(db)
    await index.add(TrackId("kept"), _fp(3))
    await index.warm()
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await index.remove(TrackId("kept"))
            raise RuntimeError("the takedown's other writes failed")
    await _drop_sqlite_bands(db)
    assert await _found(index, 3) == ["kept"]
    index.close()


async def test_a_lookup_reads_ahead_the_band_leaves_its_insert_will_write(db: Database) -> None:
    index = SqliteNearDuplicateIndex(db)
    await index.warm()
    before = near_dup_index.prefetches_done
    assert await _found(index, 5) == []  # a new track: ingest inserts it next
    await _until(lambda: near_dup_index.prefetches_done > before, "the read-ahead")
    await index.add(TrackId("t5"), _fp(5))
    assert await _found(index, 5) == ["t5"]
    index.close()


async def test_a_rolled_back_insert_never_shows_and_its_doc_number_is_reused_cleanly(db: Database) -> None:
    index = SqliteNearDuplicateIndex(db)
    await index.warm()
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await index.add(TrackId("ghost"), _fp(7))
            raise RuntimeError("the track's own insert failed")
    await index.add(TrackId("real"), _fp(8))  # SQLite gives it the doc number the ghost had
    await _drop_sqlite_bands(db)
    assert await _found(index, 7) == []
    assert await _found(index, 8) == ["real"]
    index.close()


async def test_changes_fold_into_sorted_arrays_and_stay_correct(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(near_dup_bands, "RECENT_MAX", 3)
    index = SqliteNearDuplicateIndex(db)
    await index.warm()
    for n in range(10):
        await index.add(TrackId(f"t{n}"), _fp(n))
    await index.remove(TrackId("t1"))  # folded already
    await index.add(TrackId("t2"), _fp(202))  # folded, then re-indexed
    await _drop_sqlite_bands(db)
    assert [await _found(index, n) for n in (0, 1, 2, 202, 9)] == [["t0"], [], [], ["t2"], ["t9"]]
    index.close()


async def test_many_changes_rebuild_the_packed_copy_in_the_background(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(near_dup_bands, "REBUILD_AFTER", 5)
    index = SqliteNearDuplicateIndex(db)
    await index.warm()
    table = band_table(db)
    for n in range(8):
        await index.add(TrackId(f"t{n}"), _fp(n))
    await _until(lambda: table.loads >= 2 and not table.loading, "the rebuild")
    assert table.nbytes() >= 8 * 32 * 8  # the tracks are in the packed copy now
    await _drop_sqlite_bands(db)
    assert [await _found(index, n) for n in (0, 7)] == [["t0"], ["t7"]]
    index.close()


async def test_changes_committed_while_the_load_runs_are_in_memory_after_it(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = await _indexed(db, 5)
    started, release = threading.Event(), threading.Event()
    real_pack = near_dup_bands.pack

    def slow_pack(chunks: Iterable[Sequence[tuple[int, int]]]) -> near_dup_bands.PackedBands:
        rest = iter(chunks)
        first = next(rest, [])  # the rows are read: the changes below are not among them
        started.set()
        assert release.wait(30)
        return real_pack([first, *rest])

    monkeypatch.setattr(near_dup_bands, "pack", slow_pack)
    loading = asyncio.create_task(index.warm())
    await _until(started.is_set, "the load to start")
    assert await _found(index, 1) == ["t1"]  # meanwhile SQLite answers
    await index.add(TrackId("during"), _fp(50))
    await index.remove(TrackId("t2"))
    release.set()
    await loading
    await _drop_sqlite_bands(db)
    assert [await _found(index, n) for n in (1, 2, 50)] == [["t1"], [], ["during"]]
    index.close()


async def test_a_delete_leaves_its_band_rows_to_the_sweep_and_no_doc_number_is_reused_meanwhile(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(BandSweeper, "kick", lambda self: None)  # no background sweep: the rows stay
    index = await _indexed(db, 3)
    await index.remove(TrackId("t2"))  # the newest doc number
    assert await _band_rows(db) == 3 * 32  # its rows wait for the sweep...
    assert await _found(index, 2) == []  # ...and are not found (SQLite path)
    await index.add(TrackId("after"), _fp(30))
    docs = {row[0]: row[1] for row in await db.fetchall("SELECT track_id, doc FROM near_dup_docs")}
    assert docs["after"] == 4  # not 3, the forgotten doc's number
    assert await index.warm() == 4 * 32  # loaded with the forgotten rows in it...
    assert await _found(index, 2) == []  # ...which do not count
    assert await index.sweep() == 1
    assert await _band_rows(db) == 3 * 32
    assert [await _found(index, n) for n in (0, 30)] == [["t0"], ["after"]]
    index.close()


async def test_the_background_sweep_removes_the_rows_of_deleted_tracks(db: Database) -> None:
    index = await _indexed(db, 6)
    for n in range(0, 6, 2):
        await index.remove(TrackId(f"t{n}"))
    for _ in range(600):  # the sweep runs in a thread of its own, kicked by each delete's commit
        if await _band_rows(db) == 3 * 32:
            break
        await asyncio.sleep(0.05)
    assert await _band_rows(db) == 3 * 32
    remaining = await db.fetchone("SELECT count(*) FROM near_dup_forgotten")
    assert remaining is not None and remaining[0] == 0
    index.close()


_KILLED_BETWEEN_COMMIT_AND_MEMORY = """
import asyncio, os, random, signal, sys
from pathlib import Path
from core.model import Fingerprint, TrackId
from storage.sqlite.database import Database
from storage.sqlite import near_dup_index
from storage.sqlite.near_dup_index import SqliteNearDuplicateIndex, band_table
from storage.sqlite.near_dup_sweep import BandSweeper

def fp(seed):
    rng = random.Random(seed)
    return Fingerprint(tuple(rng.getrandbits(32) for _ in range(240)), 30.0)

async def main():
    db = await Database.open(Path(sys.argv[1]))
    index = SqliteNearDuplicateIndex(db)
    await index.warm()
    # the commit is done when after-commit callbacks run: die before memory hears of it
    band_table(db).add = lambda doc, bands: os.kill(os.getpid(), signal.SIGKILL)
    await index.add(TrackId("committed"), fp(42))

asyncio.run(main())
"""


async def test_a_kill_between_the_commit_and_the_memory_update_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite3"
    child = subprocess.run(
        [sys.executable, "-c", _KILLED_BETWEEN_COMMIT_AND_MEMORY, str(path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    db = await Database.open(path)  # the restart: memory is rebuilt from SQLite
    try:
        index = SqliteNearDuplicateIndex(db)
        await index.warm()
        await _drop_sqlite_bands(db)
        assert await _found(index, 42) == ["committed"]
        index.close()
    finally:
        await db.close()

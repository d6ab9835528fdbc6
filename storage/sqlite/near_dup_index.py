"""``core.provenance_ports.NearDuplicateIndex`` on SQLite (tables of migration 121).

Lookups find their candidates in a copy of the band table held in process memory
(``storage.sqlite.near_dup_bands``, loaded by ``warm()`` at start-up; until it is loaded,
in SQLite), then read the few candidates' fingerprint copies from SQLite.

One row per band in ``near_dup_bands`` with ``(band, doc)`` as the primary key of a
WITHOUT ROWID table, so a lookup is one index seek per query key and a GROUP BY over the
few rows found; ``doc`` is a small integer (not the track id text) to keep the table
compact. There is no index on ``doc`` (migration 130): a delete recomputes the track's
bands from its stored fingerprint copy and records them in ``near_dup_forgotten``; a
background sweep removes those rows by primary key (``near_dup_sweep``, migration 235).
Every write runs in the caller's transaction when there is one
(``SqliteTrackRepository.add`` indexes a new track together with its row); the in-memory
table hears of it after the commit (``Database.after_commit``).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.model import Fingerprint, TrackId
from core.near_dup import BANDS, INDEXED_ITEMS, band_keys, query_keys
from core.provenance_ports import IndexCandidate
from core.waiting import in_thread_until_cancelled
from storage.provenance_codec import pack_values, unpack_values
from storage.sqlite.database import Database
from storage.sqlite.near_dup_bands import BandTable
from storage.sqlite.near_dup_sweep import NEXT_DOC_SQL, BandSweeper, pack_bands, sweep_all

log = logging.getLogger(__name__)

# Items kept for scoring: the indexed window plus 4 s. With 4 bytes an item and a 16-character
# track id the row stays under SQLite's 4,061-byte local payload of a 4 KB page, so reading a
# candidate's copy is one page, not a page and an overflow page (at a million tracks those
# reads are cold). The comparison still searches ±10 s of offsets over the overlap.
STORED_ITEMS = INDEXED_ITEMS + 32
# Candidates read and scored per lookup. A re-encode shares several bands with its original
# and ranks first; unrelated tracks share at most one or two (bench/near_dup.py), so a
# handful of candidates keeps the few 4 KB fingerprint reads and their scoring bounded.
CANDIDATES = 8
# A stored track must share at least two bands with the query to be a candidate. In the
# benchmark a real re-encode's original shared 8 or more (of 32; 300 queries at 100k), while
# every other candidate shared exactly one: a chance collision whose fingerprint copy would be
# read from disk and scored for nothing (at 1M tracks, about one per lookup).
MIN_SHARED_BANDS = 2


_LOOKUP = (
    "SELECT d.track_id, d.duration_s, d.vals, k.hits FROM (SELECT doc, count(*) AS hits"
    " FROM near_dup_bands WHERE band IN ({marks}) GROUP BY doc HAVING hits >= ? ORDER BY hits DESC LIMIT ?) k"
    " JOIN near_dup_docs d ON d.doc = k.doc ORDER BY k.hits DESC"
)
_DOCS = "SELECT doc, track_id, duration_s, vals FROM near_dup_docs WHERE doc IN ({marks})"
# No memory map: a fault on a mapped page makes the kernel read far around it (read_ahead_kb,
# 8 MB on the benchmark VM), so a cold 4 KB fingerprint copy cost 10-40 ms. pread reads ~16 KB.
READER_MMAP_BYTES = 0
READER_CACHE_KIB = 4 * 1024


def band_table(db: Database) -> BandTable:
    """The in-memory band table of ``db`` (empty until an index's ``warm()`` loads it), one per
    open database and shared by every index object on it: it must see every committed change."""
    return db.beside(BandTable)


def _sweeper(db: Database) -> BandSweeper:
    return db.beside(BandSweeper, lambda: BandSweeper(db.path))


# One prefetch at a time per process; a lookup that finds one running skips its own.
_PREFETCHING = threading.BoundedSemaphore(1)
prefetches_done = 0  # how many ran (the benchmark waits on it, as ingest's seconds of analysis would)


def prefetch_bands(path: Path, bands: Sequence[int]) -> None:
    """Read, in a thread of its own, the band-table leaves an insert of these bands will write.

    A lookup's 32 smallest keys are exactly the bands its track is stored with if ingest
    accepts it a few seconds later. Those leaves are rarely in the page cache at a million
    tracks (lookups no longer read the band table), and 32 cold reads made an insert 5-9 ms;
    read ahead, off every caller's path, the insert finds them cached.
    """
    if not bands or not _PREFETCHING.acquire(blocking=False):
        return

    def run() -> None:
        global prefetches_done
        try:
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
            try:
                marks = ", ".join("?" * len(bands))
                conn.execute(f"SELECT count(*) FROM near_dup_bands WHERE band IN ({marks})", list(bands)).fetchone()
            finally:
                conn.close()
            prefetches_done += 1
        except sqlite3.Error as error:  # only a hint: the insert reads what it needs anyway
            log.debug("near-duplicate prefetch failed: %s", error)
        finally:
            _PREFETCHING.release()

    threading.Thread(target=run, name="near-dup prefetch", daemon=True).start()


class _Reader:
    """A read-only connection used from worker threads, one lookup at a time."""

    def __init__(self, path: Path, table: BandTable) -> None:
        self._path = path
        self._table = table
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def lookup(self, values: Sequence[int], limit: int) -> list[IndexCandidate]:
        keys = query_keys(values)
        if not keys:
            return []
        counts = self._table.hits(keys)
        if counts is None:  # not loaded yet: the band query in SQLite
            with self._lock:
                sql = _LOOKUP.format(marks=", ".join("?" * len(keys)))
                rows = self._open().execute(sql, (*keys, MIN_SHARED_BANDS, limit)).fetchall()
            return [
                IndexCandidate(TrackId(r[0]), Fingerprint(unpack_values(r[2]), float(r[1])), int(r[3])) for r in rows
            ]
        ranked = sorted(((hits, doc) for doc, hits in counts.items() if hits >= MIN_SHARED_BANDS), reverse=True)
        found: dict[int, tuple[Any, ...]] = {}
        if ranked:  # most shares have no candidate: no read at all
            ranked = ranked[:limit]
            with self._lock:
                sql = _DOCS.format(marks=", ".join("?" * len(ranked)))
                found = {r[0]: r for r in self._open().execute(sql, [doc for _, doc in ranked]).fetchall()}
        prefetch_bands(self._path, keys[:BANDS])  # after this lookup's own reads, not beside them
        return [
            IndexCandidate(TrackId(r[1]), Fingerprint(unpack_values(r[3]), float(r[2])), hits)
            for hits, doc in ranked
            if (r := found.get(doc)) is not None  # removed since: the copy in memory is a commit behind
        ]

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(
                f"{self._path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=5.0
            )
            self._conn.execute(f"PRAGMA mmap_size={READER_MMAP_BYTES}")
            self._conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class SqliteNearDuplicateIndex:
    """Banded LSH over Chromaprint items in the instance database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._table = band_table(db)
        self._sweeper = _sweeper(db)
        self._reader = _Reader(db.path, self._table)

    async def add(self, track_id: TrackId, fingerprint: Fingerprint) -> None:
        """Index (or re-index) a track: its compact fingerprint and its bands."""
        bands = await asyncio.to_thread(band_keys, fingerprint.values)  # ~1k hashes: off the loop
        # Each statement is a trip to the database thread, and on a loaded machine each trip
        # can wait for a time slice: a new track (the usual case) takes two inside the transaction.
        async with self._db.transaction() as tx:
            doc = await self._insert_doc(tx, track_id, fingerprint)
            if doc is None:  # indexed before: forget the old bands first
                await self._forget(tx, track_id)
                doc = await self._insert_doc(tx, track_id, fingerprint)
                assert doc is not None
            await tx.executemany(
                "INSERT OR IGNORE INTO near_dup_bands(band, doc) VALUES (?, ?)", [(band, doc) for band in bands]
            )
            new_doc, table = doc, self._table
            tx.after_commit(lambda: table.add(new_doc, bands))  # never shows a row that rolled back

    @staticmethod
    async def _insert_doc(tx: Database, track_id: TrackId, fingerprint: Fingerprint) -> int | None:
        # the doc number is above every forgotten one too (near_dup_sweep: never reused while swept)
        rows = await tx.fetchall(
            f"INSERT INTO near_dup_docs(doc, track_id, duration_s, vals) SELECT ({NEXT_DOC_SQL}), ?, ?, ?"
            " WHERE true ON CONFLICT(track_id) DO NOTHING RETURNING doc",
            (track_id, fingerprint.duration_s, pack_values(fingerprint.values[:STORED_ITEMS])),
        )
        return int(rows[0][0]) if rows else None

    async def remove(self, track_id: TrackId) -> None:
        """Forget a track: its copy at once, its band rows in the background (``near_dup_sweep``)."""
        async with self._db.transaction() as tx:
            await self._forget(tx, track_id)

    async def _forget(self, tx: Database, track_id: TrackId) -> None:
        rows = await tx.fetchall("DELETE FROM near_dup_docs WHERE track_id = ? RETURNING doc, vals", (track_id,))
        if not rows:
            return
        doc, vals, table, sweeper = int(rows[0][0]), rows[0][1], self._table, self._sweeper
        # The stored copy covers the whole indexed window, so it gives back exactly the bands
        # the track was indexed with (a KEY_VERSION change reindexes everything anyway).
        bands = await asyncio.to_thread(lambda: band_keys(unpack_values(vals)))
        await tx.execute("INSERT INTO near_dup_forgotten(doc, bands) VALUES (?, ?)", (doc, pack_bands(bands)))

        def forgotten() -> None:
            table.remove(doc)
            sweeper.kick()

        tx.after_commit(forgotten)

    async def sweep(self) -> int:
        """Delete the band rows of every deleted doc now (in a worker thread); how many docs."""
        return await asyncio.to_thread(sweep_all, self._db.path)

    async def candidates(self, fingerprint: Fingerprint, limit: int = CANDIDATES) -> Sequence[IndexCandidate]:
        """Tracks sharing bands with the query, most shared first (committed tracks only)."""
        # One worker-thread hop for hashing, the query and decoding, on the index's own
        # connection: a lookup neither waits behind the instance's other queries on the
        # shared connection nor shares (and loses) its page cache.
        return await asyncio.to_thread(self._reader.lookup, fingerprint.values, limit)

    async def warm(self) -> int:
        """Load the band table into process memory (at start-up, in a worker thread); its rows.

        Lookups use SQLite until it is loaded, then memory: the kernel can drop the file's
        pages (cold, a lookup was 64 random leaf reads, 24-104 ms at a million tracks), not
        the process's own. Returns 0 when it is loaded or loading already.
        """
        if self._table.ready or self._table.loading:
            return 0
        self._sweeper.kick()  # deletes a stop left unswept
        try:  # a stop of the instance makes the thread give up within LOAD_ROWS rows
            return await in_thread_until_cancelled(lambda stop: self._table.load(self._db.path, stop))
        except RuntimeError:  # another warm() started the load first
            return 0

    def close(self) -> None:
        """Close the lookup connection (the shared one belongs to the caller)."""
        self._reader.close()

    async def backfill(self, batch: int = 500) -> int:
        """Index every stored fingerprint that is not indexed yet (after migration 121); how many."""
        done = 0
        while True:
            rows = await self._db.fetchall(
                "SELECT f.track_id, f.duration_s, f.vals FROM fingerprints f"
                " LEFT JOIN near_dup_docs d ON d.track_id = f.track_id WHERE d.doc IS NULL LIMIT ?",
                (batch,),
            )
            if not rows:
                return done
            async with self._db.transaction():
                for row in rows:
                    await self.add(TrackId(row[0]), Fingerprint(unpack_values(row[2]), float(row[1])))
            done += len(rows)

    async def count(self) -> int:
        """Indexed tracks."""
        row = await self._db.fetchone("SELECT count(*) FROM near_dup_docs")
        return int(row[0]) if row else 0

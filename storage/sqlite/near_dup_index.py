"""``core.provenance_ports.NearDuplicateIndex`` on SQLite (tables of migration 121).

One row per band in ``near_dup_bands`` with ``(band, doc)`` as the primary key of a
WITHOUT ROWID table, so a lookup is one index seek per query key and a GROUP BY over the
few rows found; ``doc`` is a small integer (not the track id text) to keep the table
compact. There is no index on ``doc`` (migration 130): a delete recomputes the track's
bands from its stored fingerprint copy and removes those rows by primary key, so the
band table is the only structure a lookup needs hot. Every write runs in the caller's
transaction when there is one (``SqliteTrackRepository.add`` indexes a new track together
with its row).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from core.model import Fingerprint, TrackId
from core.near_dup import INDEXED_ITEMS, band_keys, query_keys
from core.provenance_ports import IndexCandidate
from storage.provenance_codec import pack_values, unpack_values
from storage.sqlite.database import Database, Row

# Items kept for scoring: the indexed window plus the ±10 s the comparison may shift.
STORED_ITEMS = INDEXED_ITEMS + 80
# Candidates read and scored per lookup. A re-encode shares several bands with its original
# and ranks first; unrelated tracks share at most one or two (bench/near_dup.py), so a
# handful of candidates keeps the few 4 KB fingerprint reads and their scoring bounded.
CANDIDATES = 8


def _decode(rows: Sequence[Row]) -> list[IndexCandidate]:
    return [IndexCandidate(TrackId(r[0]), Fingerprint(unpack_values(r[2]), float(r[1])), int(r[3])) for r in rows]


class SqliteNearDuplicateIndex:
    """Banded LSH over Chromaprint items in the instance database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, track_id: TrackId, fingerprint: Fingerprint) -> None:
        """Index (or re-index) a track: its compact fingerprint and its bands."""
        bands = await asyncio.to_thread(band_keys, fingerprint.values)  # ~1k hashes: off the loop
        async with self._db.transaction() as tx:
            await self._forget(tx, track_id)
            doc = await tx.insert(
                "INSERT INTO near_dup_docs(track_id, duration_s, vals) VALUES (?, ?, ?)",
                (track_id, fingerprint.duration_s, pack_values(fingerprint.values[:STORED_ITEMS])),
            )
            await tx.executemany(
                "INSERT OR IGNORE INTO near_dup_bands(band, doc) VALUES (?, ?)", [(band, doc) for band in bands]
            )

    async def remove(self, track_id: TrackId) -> None:
        """Forget a track (its band rows are found by primary key, not by a scan)."""
        async with self._db.transaction() as tx:
            await self._forget(tx, track_id)

    @staticmethod
    async def _forget(tx: Database, track_id: TrackId) -> None:
        row = await tx.fetchone("SELECT doc, vals FROM near_dup_docs WHERE track_id = ?", (track_id,))
        if row is None:
            return
        doc = int(row[0])
        # The stored copy covers the whole indexed window, so it gives back exactly the bands
        # the track was indexed with (a KEY_VERSION change reindexes everything anyway).
        bands = await asyncio.to_thread(lambda: band_keys(unpack_values(row[1])))
        await tx.executemany("DELETE FROM near_dup_bands WHERE band = ? AND doc = ?", [(b, doc) for b in bands])
        await tx.execute("DELETE FROM near_dup_docs WHERE doc = ?", (doc,))

    async def candidates(self, fingerprint: Fingerprint, limit: int = CANDIDATES) -> Sequence[IndexCandidate]:
        """Tracks sharing bands with the query, most shared first."""
        keys = await asyncio.to_thread(query_keys, fingerprint.values)
        if not keys:
            return []
        marks = ", ".join("?" * len(keys))
        rows = await self._db.fetchall(
            f"SELECT d.track_id, d.duration_s, d.vals, k.hits FROM (SELECT doc, count(*) AS hits"
            f" FROM near_dup_bands WHERE band IN ({marks}) GROUP BY doc ORDER BY hits DESC LIMIT ?) k"
            f" JOIN near_dup_docs d ON d.doc = k.doc ORDER BY k.hits DESC",
            (*keys, limit),
        )
        return await asyncio.to_thread(_decode, rows)  # ~1k items a candidate: off the loop too

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

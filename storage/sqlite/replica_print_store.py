"""``core.federation.replica_fingerprints.ReplicaPrintStore`` on SQLite (migration 131)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from core.federation.replica_fingerprints import ReplicaPrint
from core.model import TrackId
from storage.sqlite.database import Database


class SqliteReplicaPrintStore:
    """The queue of replicated tracks to fingerprint, in ``replica_fingerprints``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, track_id: TrackId) -> None:
        """Queue a track (once)."""
        await self._db.execute(
            "INSERT OR IGNORE INTO replica_fingerprints(track_id, state) VALUES (?, ?)",
            (track_id, ReplicaPrint.PENDING.value),
        )

    async def pending(self, limit: int) -> Sequence[TrackId]:
        """Tracks still to fingerprint, oldest first."""
        rows = await self._db.fetchall(
            "SELECT track_id FROM replica_fingerprints WHERE state = ? ORDER BY rowid LIMIT ?",
            (ReplicaPrint.PENDING.value, limit),
        )
        return [TrackId(r[0]) for r in rows]

    async def settle(self, track_id: TrackId, state: ReplicaPrint, detail: str, at: datetime) -> None:
        """Record how a track was settled."""
        await self._db.execute(
            "UPDATE replica_fingerprints SET state = ?, detail = ?, checked_at = ? WHERE track_id = ?",
            (state.value, detail, at.isoformat(), track_id),
        )

    async def state(self, track_id: TrackId) -> ReplicaPrint | None:
        """How a track was settled (None: never queued)."""
        row = await self._db.fetchone("SELECT state FROM replica_fingerprints WHERE track_id = ?", (track_id,))
        return ReplicaPrint(row[0]) if row else None

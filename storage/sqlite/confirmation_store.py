"""``core.provenance_ports.ConfirmationStore`` on SQLite (tables of migration 120)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from core.model import Cid, Evidence, Fingerprint, TrackId
from core.provenance_ports import (
    ConfirmationRecord,
    ConfirmationState,
    LookupStatus,
    PageLookup,
    PendingConfirmation,
)
from storage.provenance_codec import lookup_from_row, pack_values, page_to_json, unpack_values
from storage.sqlite.database import Database, Row

_PENDING = ConfirmationState.PENDING.value


def _pending(row: Row) -> PendingConfirmation:
    fingerprint = Fingerprint(unpack_values(row["fp"]), float(row["fp_duration_s"] or 0.0)) if row["fp"] else None
    return PendingConfirmation(
        track_id=TrackId(row["track_id"]),
        generator=row["generator"],
        song_id=row["song_id"],
        cid=Cid(row["cid"]),
        duration_s=float(row["duration_s"]),
        file_title=row["file_title"],
        fingerprint=fingerprint,
        attempts=int(row["attempts"]),
        due=datetime.fromisoformat(row["due"]),
    )


class SqliteConfirmationStore:
    """The confirmation queue and generator page cache in the instance database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, item: PendingConfirmation) -> bool:
        """Queue a track unless it already has a row."""
        fp = item.fingerprint
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO confirmations(track_id, generator, song_id, cid, duration_s, file_title,"
            " fp_duration_s, fp, state, attempts, due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.track_id,
                item.generator,
                item.song_id,
                item.cid,
                item.duration_s,
                item.file_title,
                fp.duration_s if fp else None,
                pack_values(fp.values) if fp else None,
                _PENDING,
                item.attempts,
                item.due.isoformat(),
            ),
        )
        return changed > 0

    async def due(self, now: datetime, limit: int = 20) -> Sequence[PendingConfirmation]:
        """Pending rows due by ``now``, earliest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM confirmations WHERE state = ? AND due <= ? ORDER BY due LIMIT ?",
            (_PENDING, now.isoformat(), limit),
        )
        return [_pending(r) for r in rows]

    async def retry_later(self, track_id: TrackId, attempts: int, due: datetime, error: str) -> None:
        """Count the failure and move the next try."""
        await self._db.execute(
            "UPDATE confirmations SET attempts = ?, due = ?, last_error = ? WHERE track_id = ?",
            (attempts, due.isoformat(), error[:500], track_id),
        )

    async def finish(
        self, track_id: TrackId, state: ConfirmationState, checked_at: datetime, evidence: Evidence | None
    ) -> None:
        """Settle a row with its evidence."""
        await self._db.execute(
            "UPDATE confirmations SET state = ?, checked_at = ?, evidence = ? WHERE track_id = ?",
            (state.value, checked_at.isoformat(), json.dumps(evidence.to_dict()) if evidence else None, track_id),
        )

    async def get(self, track_id: TrackId) -> ConfirmationRecord | None:
        """A track's row."""
        row = await self._db.fetchone("SELECT * FROM confirmations WHERE track_id = ?", (track_id,))
        if row is None:
            return None
        return ConfirmationRecord(
            track_id=TrackId(row["track_id"]),
            generator=row["generator"],
            song_id=row["song_id"],
            state=ConfirmationState(row["state"]),
            attempts=int(row["attempts"]),
            due=datetime.fromisoformat(row["due"]),
            checked_at=datetime.fromisoformat(row["checked_at"]) if row["checked_at"] else None,
            evidence=Evidence.from_dict(json.loads(row["evidence"])) if row["evidence"] else None,
            last_error=row["last_error"],
        )

    async def cached_page(self, generator: str, song_id: str, fresh_since: datetime) -> PageLookup | None:
        """A lookup of this song made since ``fresh_since``."""
        row = await self._db.fetchone(
            "SELECT status, detail, page, fp_duration_s, fp FROM generator_pages"
            " WHERE generator = ? AND song_id = ? AND checked_at >= ?",
            (generator, song_id, fresh_since.isoformat()),
        )
        if row is None:
            return None
        return lookup_from_row(row["status"], row["detail"], row["page"], row["fp_duration_s"], row["fp"])

    async def cache_page(self, lookup: PageLookup, generator: str, song_id: str, checked_at: datetime) -> None:
        """Remember a settled lookup (unreachable ones are never cached)."""
        if lookup.status is LookupStatus.UNREACHABLE:
            return
        fp = lookup.page.fingerprint if lookup.page else None
        await self._db.execute(
            "INSERT OR REPLACE INTO generator_pages(generator, song_id, status, checked_at, detail, page,"
            " fp_duration_s, fp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                generator,
                song_id,
                lookup.status.value,
                checked_at.isoformat(),
                lookup.detail,
                page_to_json(lookup.page),
                fp.duration_s if fp else None,
                pack_values(fp.values) if fp else None,
            ),
        )

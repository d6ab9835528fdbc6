"""In-memory implementations of the provenance v2 ports (``core.provenance_ports``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from core.model import Evidence, TrackId
from core.provenance_ports import (
    ConfirmationRecord,
    ConfirmationState,
    LookupStatus,
    PageLookup,
    PendingConfirmation,
)


class MemoryConfirmationStore:
    """``ConfirmationStore`` in dicts."""

    def __init__(self) -> None:
        self._pending: dict[TrackId, PendingConfirmation] = {}
        self._records: dict[TrackId, ConfirmationRecord] = {}
        self._pages: dict[tuple[str, str], tuple[datetime, PageLookup]] = {}

    async def enqueue(self, item: PendingConfirmation) -> bool:
        if item.track_id in self._records:
            return False
        self._pending[item.track_id] = item
        self._records[item.track_id] = ConfirmationRecord(
            item.track_id, item.generator, item.song_id, ConfirmationState.PENDING, item.attempts, item.due,
            None, None, None)
        return True

    async def due(self, now: datetime, limit: int = 20) -> Sequence[PendingConfirmation]:
        ready = [p for p in self._pending.values() if p.due <= now]
        return sorted(ready, key=lambda p: p.due)[:limit]

    async def retry_later(self, track_id: TrackId, attempts: int, due: datetime, error: str) -> None:
        self._pending[track_id] = replace(self._pending[track_id], attempts=attempts, due=due)
        self._records[track_id] = replace(self._records[track_id], attempts=attempts, due=due, last_error=error[:500])

    async def finish(self, track_id: TrackId, state: ConfirmationState, checked_at: datetime,
                     evidence: Evidence | None) -> None:
        self._pending.pop(track_id, None)
        self._records[track_id] = replace(self._records[track_id], state=state, checked_at=checked_at,
                                          evidence=evidence)

    async def get(self, track_id: TrackId) -> ConfirmationRecord | None:
        return self._records.get(track_id)

    async def cached_page(self, generator: str, song_id: str, fresh_since: datetime) -> PageLookup | None:
        hit = self._pages.get((generator, song_id))
        return hit[1] if hit is not None and hit[0] >= fresh_since else None

    async def cache_page(self, lookup: PageLookup, generator: str, song_id: str, checked_at: datetime) -> None:
        if lookup.status is not LookupStatus.UNREACHABLE:
            self._pages[(generator, song_id)] = (checked_at, lookup)

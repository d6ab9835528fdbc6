"""In-memory implementations of the provenance v2 ports (``core.provenance_ports``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from core.model import Evidence, Fingerprint, TrackId
from core.near_dup import band_keys, query_keys
from core.provenance_ports import (
    ConfirmationRecord,
    ConfirmationState,
    IndexCandidate,
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
            item.track_id,
            item.generator,
            item.song_id,
            ConfirmationState.PENDING,
            item.attempts,
            item.due,
            None,
            None,
            None,
        )
        return True

    async def due(self, now: datetime, limit: int = 20) -> Sequence[PendingConfirmation]:
        ready = [p for p in self._pending.values() if p.due <= now]
        return sorted(ready, key=lambda p: p.due)[:limit]

    async def retry_later(self, track_id: TrackId, attempts: int, due: datetime, error: str) -> None:
        self._pending[track_id] = replace(self._pending[track_id], attempts=attempts, due=due)
        self._records[track_id] = replace(self._records[track_id], attempts=attempts, due=due, last_error=error[:500])

    async def finish(
        self, track_id: TrackId, state: ConfirmationState, checked_at: datetime, evidence: Evidence | None
    ) -> None:
        self._pending.pop(track_id, None)
        self._records[track_id] = replace(
            self._records[track_id], state=state, checked_at=checked_at, evidence=evidence
        )

    async def get(self, track_id: TrackId) -> ConfirmationRecord | None:
        return self._records.get(track_id)

    async def cached_page(self, generator: str, song_id: str, fresh_since: datetime) -> PageLookup | None:
        hit = self._pages.get((generator, song_id))
        return hit[1] if hit is not None and hit[0] >= fresh_since else None

    async def cache_page(self, lookup: PageLookup, generator: str, song_id: str, checked_at: datetime) -> None:
        if lookup.status is not LookupStatus.UNREACHABLE:
            self._pages[(generator, song_id)] = (checked_at, lookup)


class MemoryNearDuplicateIndex:
    """``NearDuplicateIndex`` in dicts: the same bands as SQLite, posting lists in sets."""

    def __init__(self) -> None:
        self._prints: dict[TrackId, Fingerprint] = {}
        self._bands: dict[TrackId, list[int]] = {}
        self._postings: dict[int, set[TrackId]] = {}

    async def add(self, track_id: TrackId, fingerprint: Fingerprint) -> None:
        await self.remove(track_id)
        bands = band_keys(fingerprint.values)
        self._prints[track_id] = fingerprint
        self._bands[track_id] = bands
        for band in bands:
            self._postings.setdefault(band, set()).add(track_id)

    async def remove(self, track_id: TrackId) -> None:
        for band in self._bands.pop(track_id, []):
            posting = self._postings.get(band)
            if posting is not None:
                posting.discard(track_id)
                if not posting:
                    del self._postings[band]
        self._prints.pop(track_id, None)

    async def candidates(self, fingerprint: Fingerprint, limit: int = 20) -> Sequence[IndexCandidate]:
        hits: dict[TrackId, int] = {}
        for key in query_keys(fingerprint.values):
            for track_id in self._postings.get(key, ()):
                hits[track_id] = hits.get(track_id, 0) + 1
        ranked = sorted(hits.items(), key=lambda item: -item[1])[:limit]
        return [IndexCandidate(track_id, self._prints[track_id], count) for track_id, count in ranked]

    async def count(self) -> int:
        return len(self._prints)

"""Moderators' decisions on tracks: approve, reject, take down.

A takedown hides the track everywhere on this instance and deletes its blob unless another
active track still references the same bytes. Each decision is recorded with its event
in one transaction; the federation and the bots hear of it from the outbox.
"""

from __future__ import annotations

import logging

from core.errors import NotFoundError, PermissionDeniedError, PhaseError
from core.events.model import DomainEvent, EventKind
from core.events.ports import EventLog
from core.model import Cid, Sharer, Track, TrackStatus, Verdict
from core.ports import BlobPool, Clock, TrackRepository
from core.visibility import is_public

log = logging.getLogger(__name__)


async def delete_blob_if_unused(tracks: TrackRepository, pool: BlobPool, cid: Cid) -> bool:
    """Delete a blob no active track uses any more (after a takedown); True if it was deleted."""
    if any(t.status is TrackStatus.ACTIVE for t in await tracks.find_by_cid(cid)):
        return False
    return await pool.delete(cid)


class ModerationService:
    """Review queue and decisions."""

    def __init__(self, tracks: TrackRepository, pool: BlobPool, events: EventLog, clock: Clock) -> None:
        self._tracks = tracks
        self._pool = pool
        self._events = events
        self._clock = clock

    async def _track(self, ref: str) -> Track:
        track = await self._tracks.resolve(ref)
        if track is None:
            raise NotFoundError(f"no track '{ref}' in the pool")
        return track

    async def queue(self, limit: int = 20) -> list[Track]:
        """Quarantined tracks, oldest first."""
        return list(await self._tracks.by_verdict(Verdict.QUARANTINED, limit))

    async def approve(self, ref: str, by: Sharer, reason: str | None = None) -> Track:
        """Accept a quarantined (or rejected) track as declared."""
        track = await self._track(ref)
        if track.status is TrackStatus.TAKEN_DOWN:
            raise PhaseError("this track was taken down")
        if track.verdict in (Verdict.VERIFIED, Verdict.DECLARED):
            raise PhaseError(f"this track is already {track.verdict.value}")
        if (track.sharer.platform, track.sharer.user_id) == (by.platform, by.user_id):
            raise PermissionDeniedError("you shared this track: another moderator must approve it")
        why = f"approved by {by.display_name}" + (f": {reason}" if reason else "")
        async with self._events.transaction():
            await self._tracks.set_verdict(track.id, Verdict.DECLARED, why)
            await self._events.record(
                DomainEvent(EventKind.TRACK_APPROVED, track_id=track.id, reason=why), self._clock.now()
            )
        return await self._track(track.id)

    async def reject(self, ref: str, by: Sharer, reason: str | None = None) -> Track:
        """Refuse a track; it stays on record but is never posted or replicated."""
        track = await self._track(ref)
        if track.verdict is Verdict.REJECTED:
            raise PhaseError("this track is already rejected")
        why = f"rejected by {by.display_name}" + (f": {reason}" if reason else "")
        async with self._events.transaction():
            await self._tracks.set_verdict(track.id, Verdict.REJECTED, why)
            await self._events.record(
                DomainEvent(EventKind.TRACK_REJECTED, track_id=track.id, reason=why, was_public=is_public(track)),
                self._clock.now(),
            )
        return await self._track(track.id)

    async def takedown(self, ref: str, by: Sharer, reason: str | None = None) -> tuple[Track, bool]:
        """Take a track down here; returns it and whether its blob was deleted."""
        track = await self._track(ref)
        if track.status is TrackStatus.TAKEN_DOWN:
            raise PhaseError("this track is already taken down")
        async with self._events.transaction():
            await self._tracks.set_status(track.id, TrackStatus.TAKEN_DOWN)
            await self._events.record(
                DomainEvent(EventKind.TRACK_TAKEN_DOWN, track_id=track.id, reason=reason, was_public=is_public(track)),
                self._clock.now(),
            )
        deleted = await delete_blob_if_unused(self._tracks, self._pool, track.cid)
        log.info("track %s taken down by %s (%s)", track.id, by.display_name, reason or "no reason")
        return await self._track(track.id), deleted

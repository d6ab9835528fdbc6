"""Moderators' decisions on tracks: approve, reject, take down.

A takedown hides the track everywhere on this instance and deletes its blob unless another
active track still references the same bytes. Listeners (federation) hear of approvals
and takedowns so they can publish them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.errors import NotFoundError, PhaseError
from core.model import Cid, Sharer, Track, TrackStatus, Verdict
from core.ports import BlobPool, TrackRepository

log = logging.getLogger(__name__)

Listener = Callable[[Track], Awaitable[None]]


async def delete_blob_if_unused(tracks: TrackRepository, pool: BlobPool, cid: Cid) -> bool:
    """Delete a blob no active track uses any more (after a takedown); True if it was deleted."""
    if any(t.status is TrackStatus.ACTIVE for t in await tracks.find_by_cid(cid)):
        return False
    return await pool.delete(cid)


class ModerationService:
    """Review queue and decisions."""

    def __init__(self, tracks: TrackRepository, pool: BlobPool) -> None:
        self._tracks = tracks
        self._pool = pool
        self._approved: list[Listener] = []
        self._taken_down: list[Listener] = []

    def on_approved(self, listener: Listener) -> None:
        """Hear of tracks a moderator accepted."""
        self._approved.append(listener)

    def on_taken_down(self, listener: Listener) -> None:
        """Hear of tracks taken down locally."""
        self._taken_down.append(listener)

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
        why = f"approved by {by.display_name}" + (f": {reason}" if reason else "")
        await self._tracks.set_verdict(track.id, Verdict.DECLARED, why)
        approved = await self._track(track.id)
        await self._tell(self._approved, approved)
        return approved

    async def reject(self, ref: str, by: Sharer, reason: str | None = None) -> Track:
        """Refuse a track; it stays on record but is never posted or replicated."""
        track = await self._track(ref)
        why = f"rejected by {by.display_name}" + (f": {reason}" if reason else "")
        await self._tracks.set_verdict(track.id, Verdict.REJECTED, why)
        return await self._track(track.id)

    async def takedown(self, ref: str, by: Sharer, reason: str | None = None) -> tuple[Track, bool]:
        """Take a track down here; returns it and whether its blob was deleted."""
        track = await self._track(ref)
        if track.status is TrackStatus.TAKEN_DOWN:
            raise PhaseError("this track is already taken down")
        await self._tracks.set_status(track.id, TrackStatus.TAKEN_DOWN)
        deleted = await delete_blob_if_unused(self._tracks, self._pool, track.cid)
        log.info("track %s taken down by %s (%s)", track.id, by.display_name, reason or "no reason")
        down = await self._track(track.id)
        await self._tell(self._taken_down, down)
        return down, deleted

    @staticmethod
    async def _tell(listeners: list[Listener], track: Track) -> None:
        for listener in listeners:
            try:
                await listener(track)
            except Exception:
                log.exception("a moderation listener failed for %s", track.id)

"""``core.services.first_sharer.ClaimSource`` from the instance database.

A replicated track's claim names its origin's community (from the peer's state event)
and carries the homeserver time of the first federation event that brought its manifest
(``fed_event_times``, migration 131). A local track's claim uses the time of its own
manifest event once this instance has seen it come back from the room, and until then
the time it was shared here (this instance's own clock is the one it trusts).
"""

from __future__ import annotations

from core.model import InstanceId, Track
from core.services.first_sharer import SharerClaim
from storage.sqlite.database import Database
from storage.sqlite.federation_store import SqliteFederationStore


class SqliteSharerClaims:
    """Claims of pool tracks, for settling who shared a sound first."""

    def __init__(self, db: Database, instance: InstanceId, community: str) -> None:
        self._store = SqliteFederationStore(db)
        self._instance = instance
        self._community = community

    async def claim(self, track: Track) -> SharerClaim:
        """The claim this track makes to being first."""
        event_ts = await self._store.event_time(track.id)
        if track.origin_instance == self._instance:
            community = self._community
            if event_ts is None:
                event_ts = int(track.first_seen_at.timestamp() * 1000)
        else:
            peer = await self._store.peer_by_instance(track.origin_instance)
            community = (peer.community or peer.name) if peer else track.origin_instance
        return SharerClaim(
            instance=track.origin_instance,
            community=community,
            sharer=track.sharer.display_name,
            track_id=track.id,
            manifest_ts=track.first_seen_at,
            origin_server_ts=event_ts,
        )

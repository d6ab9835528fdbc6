"""What this instance publishes to the federation, decided from the event flow.

A subscriber of the outbox: an accepted local track is queued for publishing, a public
track rejected or taken down here gets a signed tombstone, and the weekly digest goes to
the peers. Queuing writes only to the federation outbox, so the dispatcher commits each
delivery with its checkpoint (exactly once); the federation worker sends the queue when
it is connected. Only public tracks are ever published (``core.visibility``).
"""

from __future__ import annotations

import json
from datetime import timedelta

from core.events.model import EventKind, Origin, RecordedEvent
from core.federation.curated import CuratedFederation
from core.federation.ports import FederationStore
from core.ports import TrackRepository
from core.services.digest import DigestService
from core.visibility import is_public

PUBLISH = (EventKind.TRACK_ACCEPTED, EventKind.TRACK_APPROVED)
WITHDRAW = (EventKind.TRACK_REJECTED, EventKind.TRACK_TAKEN_DOWN, EventKind.TRACK_QUARANTINED)


class FederationPublisher:
    """Queues manifests, tombstones and digests for the federation rooms."""

    name = "federation"
    backlog: timedelta | None = None  # joining the federation publishes what came before
    transactional = True

    def __init__(
        self,
        store: FederationStore,
        tracks: TrackRepository,
        instance_id: str,
        digest: DigestService | None,
        curation: CuratedFederation | None = None,
    ) -> None:
        self._curation = curation  # issue 17: the publish gate; None publishes every accepted track
        self._store = store
        self._tracks = tracks
        self._instance_id = instance_id
        self._digest = digest

    def ready(self) -> bool:
        """Always: it only writes to the federation outbox."""
        return True

    async def deliver(self, event: RecordedEvent) -> None:
        """Queue what the event means for the peers."""
        e = event.event
        if e.origin is Origin.PEER:
            return  # a peer's own change: it told the federation itself
        if e.kind in PUBLISH and e.track_id is not None:
            track = await self._tracks.get(e.track_id)
            if track is not None and is_public(track) and track.origin_instance == self._instance_id:
                if self._curation is None or await self._curation.publishable(track):
                    await self._store.outbox_add("track", {"track_id": track.id})
        elif e.kind is EventKind.TRACK_BOOSTED and e.track_id is not None and self._curation is not None:
            track = await self._tracks.get(e.track_id)
            if track is not None and is_public(track) and track.origin_instance == self._instance_id:
                await self._curation.on_boost(track, self._store)
        elif e.kind is EventKind.ROUND_CLOSED and e.round_id is not None and self._curation is not None:
            await self._curation.on_round_closed(e.round_id, self._tracks, self._store, self._instance_id)
        elif e.kind in WITHDRAW and e.track_id is not None and e.was_public:
            track = await self._tracks.get(e.track_id)
            if track is not None and track.origin_instance == self._instance_id:
                await self._store.outbox_add("tombstone", {"track_id": track.id, "reason": e.reason})
        elif e.kind is EventKind.DIGEST_PUBLISHED and e.week_ending is not None and self._digest is not None:
            published = await self._digest.published(e.week_ending)
            if published is not None:
                await self._store.outbox_add(
                    "digest",
                    {
                        "title": str(published.get("title") or "digest"),
                        "data": json.loads(json.dumps(published.get("data") or {}, default=str)),
                    },
                )

"""Taking in what peers send: manifests, holders, digests, tombstones and redactions."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.errors import IntegrityError
from core.events.model import DomainEvent, EventKind, Origin
from core.federation.manifest import (
    check_signature,
    track_from_manifest,
)
from core.federation.outcomes import Outcome, OutcomeKind
from core.federation.peer_registry import PeerRegistry
from core.federation.ports import Peer, QueueItem
from core.model import Cid, Track, TrackId, TrackStatus
from core.services.moderation import delete_blob_if_unused

log = logging.getLogger(__name__)


class Intake(PeerRegistry):
    """Taking in what peers send: manifests, holders, digests, tombstones and redactions."""

    # -- incoming ----------------------------------------------------------------------

    async def handle_track(
        self, event_id: str, sender: str, content: Mapping[str, Any], origin_server_ts: int | None = None
    ) -> Outcome:
        """Take in a track manifest; returns what happened (for logs and tests).

        ``origin_server_ts`` is the homeserver's time of the event: what settles who shared
        a track first across instances (``core.services.first_sharer``), not the manifest's date.
        """
        if not await self.store.mark_seen(event_id):
            return Outcome(OutcomeKind.DUPLICATE, "already processed")
        manifest = content.get("manifest")
        if not isinstance(manifest, Mapping):
            return Outcome(OutcomeKind.IGNORED, "ignored: malformed")
        return await self._take_track(event_id, sender, manifest, origin_server_ts)

    async def _take_track(
        self,
        event_id: str | None,
        sender: str | None,
        manifest: Mapping[str, Any],
        origin_server_ts: int | None = None,
    ) -> Outcome:
        if sender == self.user_id:
            own_id = manifest.get("track_id")
            if isinstance(origin_server_ts, int) and isinstance(own_id, str):  # our own claim's event time too
                await self.store.save_event_time(TrackId(own_id), origin_server_ts)
            return Outcome(OutcomeKind.OWN, "own event")
        if sender is None:  # from a snapshot: the signer must be a known peer
            signer = (
                manifest.get("signature", {}).get("instance")
                if isinstance(manifest.get("signature"), Mapping)
                else None
            )
            peer = await self.store.peer_by_instance(str(signer)) if signer else None
            if peer is None or not check_signature(manifest, peer.public_key, self._verify):
                self.rejected_events += 1
                return Outcome(OutcomeKind.IGNORED, "ignored: unverifiable snapshot entry")
            if peer.instance_id == self._signer.instance_id:
                return Outcome(OutcomeKind.OWN, "own entry")
            if self.policy.is_blocked(peer.instance_id, peer.user_id):  # relayed by another peer's snapshot
                return Outcome(OutcomeKind.IGNORED, "ignored: blocked")
        else:
            found = await self._peer_for(sender, manifest)
            if found is None:
                return Outcome(OutcomeKind.IGNORED, "ignored: unverified")
            peer = found
        track = signed_track(manifest, peer)
        if isinstance(track, Outcome):
            self.rejected_events += 1
            return track
        await self.store.save_manifest(track.id, track.cid, peer.instance_id, manifest, event_id)
        if isinstance(origin_server_ts, int):
            await self.store.save_event_time(track.id, origin_server_ts)  # the earliest is kept
        if self.curation is not None:  # issue 17: its signed boost count and its parent
            await self.curation.take_manifest(track, manifest, peer.instance_id)
        if await self._tracks.get(track.id) is not None:
            return Outcome(OutcomeKind.KNOWN, "known")
        reason = self.policy.refuse_reason(manifest, await self._pool.total_bytes())
        if reason:
            return Outcome(OutcomeKind.REFUSED, f"refused by policy: {reason}")
        listed = manifest.get("sources")
        sources = tuple(s for s in listed if isinstance(s, Mapping)) if isinstance(listed, list) else ()
        due = self.policy.fetch_due(manifest, self._clock.now())  # issue 17: prefer boosted tracks
        queued = await self.store.enqueue(QueueItem(track.id, track.cid, manifest, sources, 0), due)
        if queued and self.on_queued is not None:
            self.on_queued()
        return Outcome(OutcomeKind.QUEUED, "queued" if queued else "already queued")

    async def handle_have(self, event_id: str, sender: str, content: Mapping[str, Any]) -> Outcome:
        """A peer holds a blob: one more source to fetch it from."""
        if not await self.store.mark_seen(event_id):
            return Outcome(OutcomeKind.DUPLICATE, "already processed")
        if sender == self.user_id:
            return Outcome(OutcomeKind.OWN, "own event")
        if await self._peer_for(sender, content) is None:
            return Outcome(OutcomeKind.IGNORED, "ignored: unverified")
        cid, source = content.get("cid"), content.get("source")
        if not isinstance(cid, str) or not isinstance(source, Mapping):
            return Outcome(OutcomeKind.IGNORED, "ignored: malformed")
        await self.store.add_source(Cid(cid), {str(k): str(v) for k, v in source.items()})
        return Outcome(OutcomeKind.DONE, "source added")

    async def handle_digest(self, sender: str, content: Mapping[str, Any]) -> Peer | None:
        """A peer's weekly digest: its peer when the sender owns the key and the signature holds."""
        if sender == self.user_id:
            return None
        return await self._peer_for(sender, content)

    async def handle_tombstone(
        self, event_id: str, sender: str, content: Mapping[str, Any], sender_is_moderator: bool = False
    ) -> Outcome:
        """A signed takedown by the track's origin (or by a room moderator)."""
        if not await self.store.mark_seen(event_id):
            return Outcome(OutcomeKind.DUPLICATE, "already processed")
        if sender == self.user_id:
            return Outcome(OutcomeKind.OWN, "own event")
        peer = await self._peer_for(sender, content)
        if peer is None:
            return Outcome(OutcomeKind.IGNORED, "ignored: unverified")
        track_id = TrackId(str(content.get("track_id")))
        track = await self._tracks.get(track_id)
        if track is None:
            await self.store.finish(track_id)  # never fetch it now
            # ... nor record it when a fetch of it is already under way (fetching.py checks this)
            await self.store.mark_seen(tombstone_marker(track_id, peer.instance_id))
            return Outcome(OutcomeKind.NOTHING, "unknown track")
        if track.origin_instance != peer.instance_id and not sender_is_moderator:
            self.rejected_events += 1
            return Outcome(OutcomeKind.IGNORED, "ignored: only the origin or a room moderator can take a track down")
        return await self._take_down(track)

    async def handle_redaction(self, redacted_event_id: str, sender: str, sender_is_moderator: bool) -> Outcome:
        """A redacted track event counts as a takedown when its origin or a moderator redacted it."""
        track_id = await self.store.track_for_event(redacted_event_id)
        if track_id is None:
            return Outcome(OutcomeKind.NOTHING, "not a track event")
        track = await self._tracks.get(track_id)
        peer = await self._peer(sender)
        by_origin = peer is not None and track is not None and track.origin_instance == peer.instance_id
        if track is None or track.origin_instance == self._signer.instance_id:
            return Outcome(OutcomeKind.NOTHING, "nothing to do")
        if not (by_origin or sender_is_moderator):
            return Outcome(OutcomeKind.IGNORED, "ignored: redaction by someone else")
        return await self._take_down(track)

    async def _take_down(self, track: Track) -> Outcome:
        if track.status is TrackStatus.TAKEN_DOWN:
            return Outcome(OutcomeKind.NOTHING, "already taken down")
        async with self._events.transaction():
            await self._tracks.set_status(track.id, TrackStatus.TAKEN_DOWN)
            await self.store.finish(track.id)
            await self._events.record(
                DomainEvent(
                    EventKind.TRACK_TAKEN_DOWN, track_id=track.id, origin=Origin.PEER, reason="taken down by its origin"
                ),
                self._clock.now(),
            )
        deleted = await delete_blob_if_unused(self._tracks, self._pool, track.cid)
        log.info("federated takedown of %s (%s); blob deleted: %s", track.id, track.title, deleted)
        return Outcome(OutcomeKind.DONE, "taken down")


def signed_track(manifest: Mapping[str, Any], peer: Peer) -> Track | Outcome:
    """The track a manifest signed by ``peer`` describes, or why it is ignored (the origin must be
    the signer; the fields must be a valid track). One check for events read one at a time and
    for a page of history."""
    origin = manifest.get("origin")
    if not isinstance(origin, Mapping) or origin.get("instance") != peer.instance_id:
        return Outcome(OutcomeKind.IGNORED, "ignored: origin does not match the signer")
    try:
        return track_from_manifest(manifest)
    except IntegrityError as error:
        return Outcome(OutcomeKind.IGNORED, f"ignored: {error}")


def tombstone_marker(track_id: str, origin: str) -> str:
    """The ``fed_seen`` key that says the track's origin took it down before it was recorded here."""
    return f"tombstone:{track_id}:{origin}"

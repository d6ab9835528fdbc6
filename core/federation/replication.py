"""Replication: publishing local tracks, and taking in peers' signed manifests.

Incoming events go through ``handle_*`` (called by the Matrix adapter for live sync and for
history pagination alike; each event id is processed once). A track manifest is checked
(the sender owns the signing key, the signature holds, local policy accepts it) and put
in the persistent fetch queue; ``run_queue`` fetches each blob from its sources in turn,
verifying every byte against the CID, stores it and records the track. Publishing goes
through a persistent outbox, so a homeserver outage delays it but loses nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from core.errors import IntegrityError, TooLargeError, WavepoolError
from core.events.model import DomainEvent, EventKind, Origin
from core.events.ports import EventLog
from core.federation.manifest import (
    IdForKey,
    Signer,
    Verify,
    canonical_json,
    check_signature,
    manifest_for,
    sign,
    tombstone_for,
    track_from_manifest,
)
from core.federation.policy import FederationPolicy
from core.federation.ports import BlobSource, FederationStore, FederationTransport, Peer, QueueItem
from core.model import Cid, Evidence, Strength, Track, TrackId, TrackStatus
from core.ports import BlobPool, Clock, TrackRepository
from core.services.moderation import delete_blob_if_unused
from core.visibility import is_public

log = logging.getLogger(__name__)

INSTANCE_EVENT = "org.wavepool.instance"
TRACK_EVENT = "org.wavepool.track.v1"
HAVE_EVENT = "org.wavepool.have.v1"
TOMBSTONE_EVENT = "org.wavepool.tombstone.v1"
DIGEST_EVENT = "org.wavepool.digest.v1"
SNAPSHOT_STATE = "org.wavepool.snapshot"

MAX_ATTEMPTS = 8


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 5 * 2 ** max(0, attempts - 1)))


class Replicator:
    """Federation of one instance."""

    def __init__(self, *, signer: Signer, name: str, community: str, homepage: str, user_id: str,
                 store: FederationStore, tracks: TrackRepository, pool: BlobPool, clock: Clock,
                 policy: FederationPolicy, sources: BlobSource, verify: Verify, id_for_key: IdForKey,
                 events: EventLog, public_url: str | None = None, transport: FederationTransport | None = None,
                 on_queued: Callable[[], None] | None = None) -> None:
        self._signer = signer
        self.name = name
        self._community = community
        self._homepage = homepage
        self.user_id = user_id
        self.store = store
        self._tracks = tracks
        self._pool = pool
        self._clock = clock
        self.policy = policy
        self._sources = sources
        self._verify = verify
        self._id_for_key = id_for_key
        self._public_url = public_url.rstrip("/") if public_url else None
        self._events = events
        self.transport = transport
        self.on_queued = on_queued  # wakes the fetch worker
        self.failed_fetches = 0
        self.rejected_events = 0
        self._peers_by_user: dict[str, Peer] = {}  # the store's account -> peer answers, cached

    # -- identity ----------------------------------------------------------------------

    def instance_state(self) -> dict[str, Any]:
        """Content of this instance's ``org.wavepool.instance`` state event."""
        return {"instance": self._signer.instance_id, "public_key": self._signer.public_key_b64,
                "name": self.name, "community": self._community, "homepage": self._homepage}

    async def handle_instance(self, sender: str, state_key: str, content: Mapping[str, Any]) -> Peer | None:
        """Register a peer; the state key must be the sender and the id must match the key."""
        if state_key != sender:
            log.warning("instance event of %s with state key %s ignored", sender, state_key)
            return None
        key = content.get("public_key")
        claimed = content.get("instance")
        if not isinstance(key, str) or not isinstance(claimed, str):
            return None
        try:
            derived = self._id_for_key(base64.b64decode(key + "=" * (-len(key) % 4), validate=True))
        except ValueError:  # binascii.Error is a ValueError
            return None
        if derived != claimed:
            log.warning("instance event of %s claims %s but its key is %s; ignored", sender, claimed, derived)
            self.rejected_events += 1
            return None
        known = await self.store.peer_by_instance(claimed)
        if known is not None and known.user_id != sender:
            log.warning("key of %s is registered to %s; %s cannot claim it", claimed, known.user_id, sender)
            self.rejected_events += 1
            return None
        peer = Peer(claimed, sender, key, str(content.get("name") or claimed)[:100],
                    str(content.get("community") or "")[:200], str(content.get("homepage") or "")[:300])
        await self.store.upsert_peer(peer, self._clock.now())
        self._peers_by_user.pop(sender, None)  # the store decides which binding of the account counts
        return peer

    # -- incoming ----------------------------------------------------------------------

    async def _peer(self, sender: str) -> Peer | None:
        peer = self._peers_by_user.get(sender)
        if peer is None:
            peer = await self.store.peer_by_user(sender)
            if peer is not None:
                self._peers_by_user[sender] = peer
        return peer

    async def _peer_for(self, sender: str, document: Mapping[str, Any]) -> Peer | None:
        peer = await self._peer(sender)
        if peer is None:
            log.warning("event from %s, which has published no instance key; ignored", sender)
            return None
        if self.policy.is_blocked(peer.instance_id, sender):
            return None
        if not check_signature(document, peer.public_key, self._verify):
            log.warning("bad signature on an event from %s (%s); ignored", sender, peer.instance_id)
            self.rejected_events += 1
            return None
        return peer

    async def handle_track(self, event_id: str, sender: str, content: Mapping[str, Any]) -> str:
        """Take in a track manifest; returns what happened (for logs and tests)."""
        if not await self.store.mark_seen(event_id):
            return "already processed"
        return await self._take_track(event_id, sender, content.get("manifest") or {})

    async def _take_track(self, event_id: str | None, sender: str | None, manifest: Mapping[str, Any]) -> str:
        if sender == self.user_id:
            return "own event"
        if sender is None:  # from a snapshot: the signer must be a known peer
            signer = manifest.get("signature", {}).get("instance") if isinstance(manifest.get("signature"), Mapping) else None
            peer = await self.store.peer_by_instance(str(signer)) if signer else None
            if peer is None or not check_signature(manifest, peer.public_key, self._verify):
                self.rejected_events += 1
                return "ignored: unverifiable snapshot entry"
            if peer.instance_id == self._signer.instance_id:
                return "own entry"
        else:
            found = await self._peer_for(sender, manifest)
            if found is None:
                return "ignored: unverified"
            peer = found
        if manifest.get("origin", {}).get("instance") != peer.instance_id:
            self.rejected_events += 1
            return "ignored: origin does not match the signer"
        try:
            track = track_from_manifest(manifest)
        except IntegrityError as error:
            self.rejected_events += 1
            return f"ignored: {error}"
        await self.store.save_manifest(track.id, track.cid, peer.instance_id, manifest, event_id)
        if await self._tracks.get(track.id) is not None:
            return "known"
        reason = self.policy.refuse_reason(manifest, await self._pool.total_bytes())
        if reason:
            return f"refused by policy: {reason}"
        sources = tuple(s for s in manifest.get("sources") or () if isinstance(s, Mapping))
        queued = await self.store.enqueue(QueueItem(track.id, track.cid, manifest, sources, 0), self._clock.now())
        if queued and self.on_queued is not None:
            self.on_queued()
        return "queued" if queued else "already queued"

    async def handle_have(self, event_id: str, sender: str, content: Mapping[str, Any]) -> str:
        """A peer holds a blob: one more source to fetch it from."""
        if not await self.store.mark_seen(event_id):
            return "already processed"
        if sender == self.user_id:
            return "own event"
        if await self._peer_for(sender, content) is None:
            return "ignored: unverified"
        cid, source = content.get("cid"), content.get("source")
        if not isinstance(cid, str) or not isinstance(source, Mapping):
            return "ignored: malformed"
        await self.store.add_source(Cid(cid), {str(k): str(v) for k, v in source.items()})
        return "source added"

    async def handle_digest(self, sender: str, content: Mapping[str, Any]) -> Peer | None:
        """A peer's weekly digest: its peer when the sender owns the key and the signature holds."""
        if sender == self.user_id:
            return None
        return await self._peer_for(sender, content)

    async def handle_tombstone(self, event_id: str, sender: str, content: Mapping[str, Any],
                               sender_is_moderator: bool = False) -> str:
        """A signed takedown by the track's origin (or by a room moderator)."""
        if not await self.store.mark_seen(event_id):
            return "already processed"
        if sender == self.user_id:
            return "own event"
        peer = await self._peer_for(sender, content)
        if peer is None:
            return "ignored: unverified"
        track_id = TrackId(str(content.get("track_id")))
        track = await self._tracks.get(track_id)
        if track is None:
            await self.store.finish(track_id)  # never fetch it now
            return "unknown track"
        if track.origin_instance != peer.instance_id and not sender_is_moderator:
            self.rejected_events += 1
            return "ignored: only the origin or a room moderator can take a track down"
        return await self._take_down(track)

    async def handle_redaction(self, redacted_event_id: str, sender: str, sender_is_moderator: bool) -> str:
        """A redacted track event counts as a takedown when its origin or a moderator redacted it."""
        track_id = await self.store.track_for_event(redacted_event_id)
        if track_id is None:
            return "not a track event"
        track = await self._tracks.get(track_id)
        peer = await self._peer(sender)
        by_origin = peer is not None and track is not None and track.origin_instance == peer.instance_id
        if track is None or track.origin_instance == self._signer.instance_id:
            return "nothing to do"
        if not (by_origin or sender_is_moderator):
            return "ignored: redaction by someone else"
        return await self._take_down(track)

    async def _take_down(self, track: Track) -> str:
        if track.status is TrackStatus.TAKEN_DOWN:
            return "already taken down"
        async with self._events.transaction():
            await self._tracks.set_status(track.id, TrackStatus.TAKEN_DOWN)
            await self.store.finish(track.id)
            await self._events.record(DomainEvent(EventKind.TRACK_TAKEN_DOWN, track_id=track.id, origin=Origin.PEER,
                                                  reason="taken down by its origin"), self._clock.now())
        deleted = await delete_blob_if_unused(self._tracks, self._pool, track.cid)
        log.info("federated takedown of %s (%s); blob deleted: %s", track.id, track.title, deleted)
        return "taken down"

    # -- fetching ----------------------------------------------------------------------

    async def run_queue(self, limit: int = 256, concurrency: int = 16, wave: int = 48) -> int:
        """Fetch due blobs, ``concurrency`` at a time; returns how many tracks were stored.

        Blobs are fetched in waves; each wave's tracks are recorded in one transaction. A
        crash between a blob's rename and its wave's commit leaves the blob without a track
        row and the queue item in place, so the next run records it (the blob is kept).
        """
        gate = asyncio.Semaphore(concurrency)

        async def one(item: QueueItem) -> Track | None:
            async with gate:
                return await self._fetch(item)

        items = list(await self.store.due(self._clock.now(), limit))
        known = await self.store.recorded(item.track_id for item in items)
        for track_id in known:  # recorded meanwhile (shared here too, or fetched by an earlier run)
            await self.store.finish(track_id)
        items = [item for item in items if item.track_id not in known]
        stored = 0
        for start in range(0, len(items), wave):
            fetched = [t for t in await asyncio.gather(*(one(i) for i in items[start:start + wave])) if t]
            if fetched:
                now = self._clock.now()
                async with self._events.transaction(), self.store.atomic():
                    for track in fetched:
                        await self._tracks.add(track)
                        await self.store.finish(track.id)
                        await self._announce_have(track)
                        peer = await self.store.peer_by_instance(track.origin_instance)
                        await self._events.record(DomainEvent(
                            EventKind.TRACK_REPLICATED, track_id=track.id, origin=Origin.PEER,
                            peer=(peer.community or peer.name) if peer else track.origin_instance), now)
                stored += len(fetched)
        return stored

    async def _fetch(self, item: QueueItem) -> Track | None:
        """Get the blob from the first source that serves the right bytes; the track to record."""
        errors: list[str] = []
        have = await self._pool.has(item.cid)
        for source in item.sources:
            if have:
                break
            try:
                await self._pool.put_stream(self._sources.open(source, self.policy.max_track_bytes),
                                            max_size=self.policy.max_track_bytes, expect=item.cid)
                have = True
            except (IntegrityError, TooLargeError, WavepoolError, OSError) as error:
                errors.append(f"{_describe(source)}: {error}")
                log.warning("fetching %s from %s failed: %s", item.cid, _describe(source), error)
            except Exception as error:  # a transport error of any kind: try the next source
                errors.append(f"{_describe(source)}: {type(error).__name__}: {error}")
                log.warning("fetching %s from %s failed: %r", item.cid, _describe(source), error)
        if not have:
            self.failed_fetches += 1
            attempts = item.attempts + 1
            message = "; ".join(errors) or "no source listed"
            if attempts >= MAX_ATTEMPTS:
                log.error("giving up on %s after %d attempts: %s", item.cid, attempts, message)
            await self.store.retry_later(item.track_id, message[:1000],
                                          self._clock.now() + _backoff(attempts) * (1000 if attempts >= MAX_ATTEMPTS else 1))
            return None
        track = track_from_manifest(item.manifest)
        origin = item.manifest.get("origin", {}).get("name") or track.origin_instance
        track = replace(track, evidence=(*track.evidence, Evidence(
            "federation", f"origin:{track.origin_instance}", Strength.INFO,
            f"replicated from {origin}; bytes verified against the CID", {"origin": track.origin_instance})))
        return track

    async def _announce_have(self, track: Track) -> None:
        if self.transport is None:
            return
        await self.store.outbox_add("have", {"track_id": track.id, "cid": track.cid})

    # -- outgoing ----------------------------------------------------------------------

    async def publish_track(self, track: Track) -> None:
        """Queue a local accepted track for publishing (the outbox survives restarts)."""
        await self.store.outbox_add("track", {"track_id": track.id})

    async def publish_tombstone(self, track: Track, reason: str | None = None) -> None:
        """Queue a takedown notice of a local track."""
        if track.origin_instance != self._signer.instance_id:
            return  # a local takedown of a peer's track does not affect others
        await self.store.outbox_add("tombstone", {"track_id": track.id, "reason": reason})

    async def publish_digest(self, data: Mapping[str, Any], title: str) -> None:
        """Queue this instance's weekly digest for the federation rooms."""
        await self.store.outbox_add("digest", {"title": title, "data": json.loads(json.dumps(data, default=str))})

    async def flush_outbox(self) -> int:
        """Send what is pending; stops at the first transport failure. Returns how many were sent."""
        if self.transport is None:
            return 0
        sent = 0
        for item_id, kind, payload in await self.store.outbox_pending(50):
            try:
                await self._send(kind, payload)
            except WavepoolError as error:
                log.warning("outbox %s %s dropped: %s", kind, item_id, error)
            await self.store.outbox_done(item_id)
            sent += 1
        return sent

    async def _send(self, kind: str, payload: Mapping[str, Any]) -> None:
        assert self.transport is not None
        now = self._clock.now()
        if kind in ("track", "have"):
            track = await self._tracks.get(TrackId(str(payload["track_id"])))
            if track is None or not is_public(track):
                return  # rejected or taken down since it was queued
            path = await self._pool.local_path(track.cid)
            if path is None:
                return
            mxc = await self.transport.upload(path, track.media_type, track.size)
            if kind == "have":
                doc = sign({"cid": track.cid, "source": {"mxc": mxc}, "at": now.isoformat()}, self._signer)
                await self.transport.send(HAVE_EVENT, doc)
                return
            sources = [{"mxc": mxc}]
            if self._public_url:
                sources.append({"http": f"{self._public_url}/blobs/{track.cid}"})
            manifest = sign(manifest_for(track, sources, self.name), self._signer)
            event_id = await self.transport.send(TRACK_EVENT, {"manifest": manifest})
            await self.store.save_manifest(track.id, track.cid, self._signer.instance_id, manifest, event_id)
        elif kind == "tombstone":
            track = await self._tracks.get(TrackId(str(payload["track_id"])))
            if track is None:
                return
            doc = sign(tombstone_for(track, payload.get("reason"), now), self._signer)
            await self.transport.send(TOMBSTONE_EVENT, doc)
        elif kind == "digest":
            doc = sign({"v": 1, "kind": "digest", "origin": {"instance": self._signer.instance_id, "name": self.name},
                        "title": payload.get("title"), "data": payload.get("data"), "at": now.isoformat()},
                       self._signer)
            await self.transport.send(DIGEST_EVENT, doc)

    # -- snapshots ---------------------------------------------------------------------

    async def build_snapshot(self, work_dir: Path) -> tuple[Cid, int, Path]:
        """Every known manifest as JSON lines, stored in the pool; (cid, count, path)."""
        work_dir.mkdir(parents=True, exist_ok=True)
        count = 0
        with tempfile.NamedTemporaryFile("wb", dir=work_dir, suffix=".jsonl", delete=False) as handle:
            async for manifest in self.store.manifests():
                handle.write(canonical_json(manifest) + b"\n")
                count += 1
            temp = Path(handle.name)
        try:
            cid, _size = await self._pool.put_file(temp)
        finally:
            temp.unlink(missing_ok=True)
        path = await self._pool.local_path(cid)
        assert path is not None
        return cid, count, path

    async def load_snapshot(self, cid: Cid, source: Mapping[str, str], max_bytes: int = 2 * 1024**3) -> int:
        """Fetch a peer's snapshot, verify it against its CID, take in every entry; returns entries.

        The snapshot passes through the pool (streamed, capped, verified) and leaves it again:
        no track references it.
        """
        await self._pool.put_stream(self._sources.open(source, max_bytes), max_size=max_bytes, expect=cid)
        taken = 0
        path = await self._pool.local_path(cid)
        assert path is not None
        try:
            with path.open("rb") as handle:
                for line in handle:
                    try:
                        manifest = json.loads(line)
                    except ValueError:
                        continue
                    outcome = await self._take_track(None, None, manifest)
                    if outcome in ("queued", "known", "already queued"):
                        taken += 1
        finally:
            await self._pool.delete(cid)
        return taken


def _describe(source: Mapping[str, str]) -> str:
    return next(iter(source.values()), "?")[:120]

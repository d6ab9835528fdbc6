"""Publishing through the persistent federation outbox: manifests, holders, tombstones, digests."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from core.errors import WavepoolError
from core.federation.event_types import BOOST_EVENT, DIGEST_EVENT, HAVE_EVENT, TOMBSTONE_EVENT, TRACK_EVENT
from core.federation.manifest import (
    manifest_for,
    sign,
    tombstone_for,
)
from core.federation.peer_registry import PeerRegistry
from core.federation.ports import LastingSendError
from core.model import Track, TrackId
from core.visibility import is_public

log = logging.getLogger(__name__)


class Outgoing(PeerRegistry):
    """Publishing through the persistent federation outbox: manifests, holders, tombstones, digests."""

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

    async def flush_outbox(self, holders: bool = True) -> int:
        """Send what is pending; returns how many items left the line (sent, dropped or parked).

        A passing failure (network, rate limit, homeserver down) stops the flush and keeps the
        order; an item the homeserver refuses for good is parked with its error so that it
        does not hold every later one (``wavepool federation retry|drop``). ``holders=False``
        leaves the ``have`` announcements (a re-upload of the blob each) for a later flush."""
        if self.transport is None:
            return 0
        sent = 0
        for item_id, kind, payload in await self.store.outbox_pending(50):
            if kind == "have" and not holders:
                continue
            try:
                await self._send(kind, payload)
            except WavepoolError as error:
                log.warning("outbox %s %s dropped: %s", kind, item_id, error)
            except LastingSendError as error:
                log.error("outbox %s %s parked (the homeserver refuses it): %s", kind, item_id, error)
                await self.store.outbox_park(item_id, str(error)[:1000])
                sent += 1
                continue
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
            fingerprint = await self._tracks.fingerprint(track.id)  # issue 12: peers index it too
            unsigned = manifest_for(track, sources, self.name, fingerprint)
            if self.curation is not None:  # issue 17: boost count and lineage, signed with the rest
                unsigned = await self.curation.manifest(unsigned, track)
            manifest = sign(unsigned, self._signer)
            event_id = await self.transport.send(TRACK_EVENT, {"manifest": manifest})
            await self.store.save_manifest(track.id, track.cid, self._signer.instance_id, manifest, event_id)
        elif kind == "boost" and self.curation is not None:  # issue 17
            track = await self._tracks.get(TrackId(str(payload["track_id"])))
            if track is not None and is_public(track):
                await self.transport.send(BOOST_EVENT, sign(await self.curation.boost_update(track, now), self._signer))
        elif kind == "tombstone":
            track = await self._tracks.get(TrackId(str(payload["track_id"])))
            if track is None:
                return
            doc = sign(tombstone_for(track, payload.get("reason"), now), self._signer)
            await self.transport.send(TOMBSTONE_EVENT, doc)
            # The tombstone tells peers; the homeserver still serves the manifest event and the
            # audio this instance uploaded until they are redacted and deleted (issue 13).
            await self.transport.withdraw(track.id, track.cid, payload.get("reason"))
        elif kind == "digest":
            doc = sign(
                {
                    "v": 1,
                    "kind": "digest",
                    "origin": {"instance": self._signer.instance_id, "name": self.name},
                    "title": payload.get("title"),
                    "data": payload.get("data"),
                    "at": now.isoformat(),
                },
                self._signer,
            )
            await self.transport.send(DIGEST_EVENT, doc)

"""Curation across the federation: the publish gate, boosts and lineage in signed documents.

Publish side: with the gate on (``PublishGate.curated``), an accepted local track is
published only once it is boosted by N curators, placed in a round, or reached a fair
score; every boost re-checks the gate, so the boost that crosses N publishes the track,
and a later boost of a published track sends a signed ``org.wavepool.boost.v1`` update.
The manifest carries ``boosts`` and ``lineage`` (parent CID and relation), added before
signing at send time, so a link recorded just after the share is in it.

Receive side: a manifest's signed ``boosts`` and later signed updates from the track's
origin are kept per CID (``peer_boosts``); its ``lineage`` links the track to its parent
here, so a remix on a peer of one of our tracks tells our sharer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.curation_ports import CurationStore
from core.federation.manifest import boost_update_for, with_curation
from core.federation.policy import PublishGate, boosts_of
from core.federation.ports import FederationStore
from core.model import Cid, Track
from core.ports import TrackRepository
from core.services.lineage import LineageService, lineage_manifest_field
from core.services.reputation import ReputationService
from core.visibility import is_public

log = logging.getLogger(__name__)


class CuratedFederation:
    """What curation adds to publishing and intake."""

    def __init__(
        self, reputation: ReputationService, lineage: LineageService, store: CurationStore, gate: PublishGate
    ) -> None:
        self._reputation = reputation
        self._lineage = lineage
        self._store = store
        self.gate = gate

    async def publishable(self, track: Track) -> bool:
        """Whether the publish gate lets this accepted local track out now."""
        if not self.gate.curated:
            return True
        facts = await self._reputation.facts(track)
        allowed = self.gate.allows(facts.boosts, facts.best_place, facts.fair_score)
        if not allowed:
            log.info("publish gate holds %s back (boosts %d, place %s)", track.id, facts.boosts, facts.best_place)
        return allowed

    async def on_boost(self, track: Track, outbox: FederationStore) -> None:
        """A local track was boosted: publish it if it now passes the gate, else update its count."""
        if await outbox.manifest(track.id) is not None:
            await outbox.outbox_add("boost", {"track_id": track.id})
        elif self.gate.curated and await self.publishable(track):
            await outbox.outbox_add("track", {"track_id": track.id})

    async def on_round_closed(
        self, round_id: int, tracks: TrackRepository, outbox: FederationStore, local: str
    ) -> None:
        """A round closed: publish its local entries that placed well enough for the gate."""
        if not self.gate.curated or self.gate.round_place <= 0:
            return
        for track_id in await self._reputation.round_tracks(round_id):
            track = await tracks.get(track_id)
            if track is None or not is_public(track) or track.origin_instance != local:
                continue
            if await outbox.manifest(track.id) is None and await self.publishable(track):
                await outbox.outbox_add("track", {"track_id": track.id})

    async def manifest(self, manifest: Mapping[str, Any], track: Track) -> dict[str, Any]:
        """The unsigned manifest with the track's boost count and lineage."""
        boosts = (await self._store.boost_counts([track.id])).get(track.id, 0)
        return with_curation(manifest, boosts, lineage_manifest_field(await self._lineage.link_of(track)))

    async def boost_update(self, track: Track, at: datetime) -> dict[str, Any]:
        """The unsigned boost-count update of a published track."""
        boosts = (await self._store.boost_counts([track.id])).get(track.id, 0)
        return boost_update_for(track, boosts, at)

    async def take_manifest(self, track: Track, manifest: Mapping[str, Any], origin: str) -> None:
        """A verified peer manifest: keep its boost count and link its lineage."""
        boosts = boosts_of(manifest)
        if boosts:
            await self._store.set_peer_boosts(track.cid, origin, boosts, track.first_seen_at)
        await self._lineage.link_from_manifest(track, manifest)

    async def take_boost_update(self, content: Mapping[str, Any], origin: str) -> bool:
        """A verified boost update signed by the track's origin; False when stale or malformed."""
        cid, at = content.get("cid"), content.get("at")
        if not isinstance(cid, str) or not isinstance(at, str):
            return False
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            return False
        return await self._store.set_peer_boosts(Cid(cid), origin, boosts_of(content), when)

    async def peer_boosts(self, cid: Cid) -> int:
        """The latest boost count a peer signed for a track."""
        return await self._store.peer_boosts(cid)

"""Taking in signed boost-count updates (issue 17): ``org.wavepool.boost.v1`` from a track's origin."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.federation.outcomes import Outcome, OutcomeKind
from core.federation.peer_registry import PeerRegistry


class CuratedIntake(PeerRegistry):
    """The replicator's handler of boost updates."""

    async def handle_boost(self, event_id: str, sender: str, content: Mapping[str, Any]) -> Outcome:
        """Keep a track's boost count when its origin signed it and it is newer than what we hold."""
        if not await self.store.mark_seen(event_id):
            return Outcome(OutcomeKind.DUPLICATE, "already processed")
        if sender == self.user_id:
            return Outcome(OutcomeKind.OWN, "own event")
        peer = await self._peer_for(sender, content)
        if peer is None:
            return Outcome(OutcomeKind.IGNORED, "ignored: unverified")
        origin = content.get("origin")
        if not isinstance(origin, Mapping) or origin.get("instance") != peer.instance_id:
            self.rejected_events += 1
            return Outcome(OutcomeKind.IGNORED, "ignored: only a track's origin counts its boosts")
        if self.curation is None:
            return Outcome(OutcomeKind.NOTHING, "curation is off here")
        if await self.curation.take_boost_update(content, peer.instance_id):
            return Outcome(OutcomeKind.DONE, "boost count updated")
        return Outcome(OutcomeKind.NOTHING, "stale or malformed boost count")

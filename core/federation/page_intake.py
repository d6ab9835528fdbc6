"""Taking in a page of track events at once: the checks of ``handle_track``, a few writes per page.

A new instance reads hundreds of track events from a room's history; handled one by one,
each cost ~8 trips to the database thread and its own writes (2.9 ms an event). Here a
page costs a fixed handful of trips: one to mark the events seen, one per sender to say it
was heard from, one each for the manifests, the event times, "already recorded?" and the
fetch queue. The signature, sender and policy checks are the same as ``handle_track``'s and
give the same outcomes; the writes of a page commit together (``store.atomic()``), so a
crash leaves the whole page unread, to be read again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.federation.intake import Intake, signed_track
from core.federation.manifest import check_signature
from core.federation.outcomes import Outcome, OutcomeKind
from core.federation.ports import ManifestRow, Peer, QueueItem
from core.model import Track, TrackId

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackEvent:
    """One ``org.wavepool.track`` room event, as ``handle_track`` takes it."""

    event_id: str
    sender: str
    content: Mapping[str, Any]
    origin_server_ts: int | None = None


@dataclass(frozen=True)
class _Taken:
    index: int
    event_id: str
    peer: Peer
    manifest: Mapping[str, Any]
    track: Track


class PageIntake(Intake):
    """``handle_tracks``: a page of track events with a few writes."""

    async def handle_tracks(self, events: Sequence[TrackEvent]) -> list[Outcome]:
        """``handle_track`` for each event, in order, with the page's reads and writes batched."""
        if not events:
            return []
        outcomes: list[Outcome | None] = [None] * len(events)
        async with self.store.atomic():
            fresh = await self.store.mark_seen_many([e.event_id for e in events])
            taken: list[_Taken] = []
            times: list[tuple[TrackId, int]] = []
            heard: set[str] = set()
            for index, event in enumerate(events):
                if event.event_id not in fresh:  # handled before, or twice in this page
                    outcomes[index] = Outcome(OutcomeKind.DUPLICATE, "already processed")
                    continue
                fresh.discard(event.event_id)
                try:
                    outcome = await self._check(index, event, taken, times, heard)
                except Exception:  # one bad event must not stop the page (as it would not the room)
                    log.exception("track event %s from %s failed", event.event_id, event.sender)
                    outcome = Outcome(OutcomeKind.IGNORED, "ignored: failed")
                outcomes[index] = outcome
            now = self._clock.now()
            for sender in sorted(heard):  # "last seen" means last heard from
                await self.store.touch_peer(sender, now)
            await self._keep(taken, times)
            for index, outcome in (await self._queue(taken)).items():
                outcomes[index] = outcome
        if self.on_queued is not None and "queued" in outcomes:
            self.on_queued()  # after the commit: the fetch worker sees the page's items
        return [o if o is not None else Outcome(OutcomeKind.IGNORED, "ignored") for o in outcomes]

    async def _check(
        self,
        index: int,
        event: TrackEvent,
        taken: list[_Taken],
        times: list[tuple[TrackId, int]],
        heard: set[str],
    ) -> Outcome | None:
        """The checks of one event; None when it was taken (its outcome comes from the queue)."""
        manifest = event.content.get("manifest")
        if not isinstance(manifest, Mapping):
            return Outcome(OutcomeKind.IGNORED, "ignored: malformed")
        if event.sender == self.user_id:
            own_id = manifest.get("track_id")
            if isinstance(event.origin_server_ts, int) and isinstance(own_id, str):
                times.append((TrackId(own_id), event.origin_server_ts))
            return Outcome(OutcomeKind.OWN, "own event")
        peer = await self._peer(event.sender)
        if peer is None:
            log.warning("event from %s, which has published no instance key; ignored", event.sender)
            return Outcome(OutcomeKind.IGNORED, "ignored: unverified")
        if self.policy.is_blocked(peer.instance_id, event.sender):
            return Outcome(OutcomeKind.IGNORED, "ignored: unverified")
        if not check_signature(manifest, peer.public_key, self._verify):
            log.warning("bad signature on an event from %s (%s); ignored", event.sender, peer.instance_id)
            self.rejected_events += 1
            return Outcome(OutcomeKind.IGNORED, "ignored: unverified")
        heard.add(event.sender)
        track = signed_track(manifest, peer)
        if isinstance(track, Outcome):
            self.rejected_events += 1
            return track
        taken.append(_Taken(index, event.event_id, peer, manifest, track))
        if isinstance(event.origin_server_ts, int):
            times.append((track.id, event.origin_server_ts))  # the earliest is kept
        return None

    async def _keep(self, taken: list[_Taken], times: list[tuple[TrackId, int]]) -> None:
        """The manifests, event times and curation facts of the page's verified events."""
        rows: list[ManifestRow] = [(t.track.id, t.track.cid, t.peer.instance_id, t.manifest, t.event_id) for t in taken]
        if rows:
            await self.store.save_manifests(rows)
        if times:
            await self.store.save_event_times(times)
        if self.curation is not None:  # issue 17: its signed boost count and its parent
            for t in taken:
                await self.curation.take_manifest(t.track, t.manifest, t.peer.instance_id)

    async def _queue(self, taken: list[_Taken]) -> dict[int, Outcome]:
        """Queue the fetches the page calls for; each taken event's outcome."""
        if not taken:
            return {}
        outcomes: dict[int, Outcome] = {}
        known = await self.store.recorded(t.track.id for t in taken)
        pool_bytes = await self._pool.total_bytes()  # fetches do not run inside this transaction
        wanted: list[tuple[int, QueueItem, datetime]] = []
        for t in taken:
            if t.track.id in known:
                outcomes[t.index] = Outcome(OutcomeKind.KNOWN, "known")
                continue
            reason = self.policy.refuse_reason(t.manifest, pool_bytes)
            if reason:
                outcomes[t.index] = Outcome(OutcomeKind.REFUSED, f"refused by policy: {reason}")
                continue
            listed = t.manifest.get("sources")
            sources = tuple(s for s in listed if isinstance(s, Mapping)) if isinstance(listed, list) else ()
            due = self.policy.fetch_due(t.manifest, self._clock.now())  # issue 17: prefer boosted tracks
            wanted.append((t.index, QueueItem(t.track.id, t.track.cid, t.manifest, sources, 0), due))
        queued = await self.store.enqueue_many([(item, due) for _, item, due in wanted]) if wanted else set()
        for index, item, _due in wanted:
            first = item.track_id in queued
            queued.discard(item.track_id)  # the same track twice in a page: the second is "already queued"
            outcomes[index] = Outcome(OutcomeKind.QUEUED, "queued" if first else "already queued")
        return outcomes

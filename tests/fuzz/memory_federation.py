"""A ``FederationStore`` in dicts, enough for fuzzing the event handlers fast (no SQLite)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.federation.ports import Peer, PeerStats, QueueItem
from core.model import Cid, TrackId


class MemoryFederationStore:
    """``core.federation.ports.FederationStore`` without persistence."""

    def __init__(self) -> None:
        self.peers: dict[str, Peer] = {}
        self.seen_events: set[str] = set()
        self.manifests_by_track: dict[TrackId, Mapping[str, Any]] = {}
        self.events: dict[str, TrackId] = {}
        self.queue: dict[TrackId, QueueItem] = {}
        self.sources: dict[Cid, list[Mapping[str, str]]] = {}
        self.outbox: list[tuple[int, str, Mapping[str, Any]]] = []

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        yield

    async def upsert_peer(self, peer: Peer, at: datetime) -> None:
        self.peers[peer.instance_id] = peer

    async def peer_by_user(self, user_id: str) -> Peer | None:
        return next((p for p in self.peers.values() if p.user_id == user_id), None)

    async def peer_by_instance(self, instance_id: str) -> Peer | None:
        return self.peers.get(instance_id)

    async def peer_stats(self) -> Sequence[PeerStats]:
        return []

    async def touch_peer(self, user_id: str, at: datetime) -> None:
        return None

    async def seen(self, event_id: str) -> bool:
        return event_id in self.seen_events

    async def mark_seen(self, event_id: str) -> bool:
        if event_id in self.seen_events:
            return False
        self.seen_events.add(event_id)
        return True

    async def save_manifest(
        self,
        track_id: TrackId,
        cid: Cid,
        origin: str,
        manifest: Mapping[str, Any],
        event_id: str | None,
    ) -> None:
        self.manifests_by_track[track_id] = manifest
        if event_id:
            self.events[event_id] = track_id

    async def manifest(self, track_id: TrackId) -> Mapping[str, Any] | None:
        return self.manifests_by_track.get(track_id)

    async def manifests(self) -> AsyncIterator[Mapping[str, Any]]:
        for manifest in list(self.manifests_by_track.values()):
            yield manifest

    async def track_for_event(self, event_id: str) -> TrackId | None:
        return self.events.get(event_id)

    async def set_manifest_event(self, track_id: TrackId, event_id: str) -> None:
        self.events[event_id] = track_id

    async def enqueue(self, item: QueueItem, due: datetime) -> bool:
        if item.track_id in self.queue:
            return False
        self.queue[item.track_id] = item
        return True

    async def add_source(self, cid: Cid, source: Mapping[str, str]) -> None:
        self.sources.setdefault(cid, []).append(dict(source))

    async def due(self, now: datetime, limit: int) -> Sequence[QueueItem]:
        return list(self.queue.values())[:limit]

    async def recorded(self, track_ids: Iterable[TrackId]) -> set[TrackId]:
        return set()

    async def finish(self, track_id: TrackId) -> None:
        self.queue.pop(track_id, None)

    async def retry_later(self, track_id: TrackId, error: str, due: datetime) -> None:
        return None

    async def queue_size(self) -> int:
        return len(self.queue)

    async def failures(self, limit: int) -> Sequence[QueueItem]:
        return []

    async def outbox_add(self, kind: str, content: Mapping[str, Any]) -> int:
        self.outbox.append((len(self.outbox) + 1, kind, content))
        return len(self.outbox)

    async def outbox_pending(self, limit: int) -> Sequence[tuple[int, str, Mapping[str, Any]]]:
        return self.outbox[:limit]

    async def outbox_done(self, item_id: int) -> None:
        self.outbox = [o for o in self.outbox if o[0] != item_id]

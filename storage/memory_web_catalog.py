"""``core.views.page_data.WebCatalog`` over the in-memory stores, for unit tests and the contract suite."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.model import Cid, Track, TrackId, TrackStatus
from core.visibility import is_public
from storage.memory import MemoryKeyValue, MemoryTrackRepository, MemoryVotingRepository
from storage.memory_federation import MemoryFederationStore


class MemoryWebCatalog:
    """Reads the same dicts the other memory stores write."""

    def __init__(
        self,
        tracks: MemoryTrackRepository,
        voting: MemoryVotingRepository | None = None,
        state: MemoryKeyValue | None = None,
        federation: MemoryFederationStore | None = None,
    ) -> None:
        self._tracks = tracks
        self._voting = voting
        self._state = state
        self._federation = federation

    async def public_recent(self, limit: int, genre: str | None = None) -> Sequence[Track]:
        """Public tracks newest first, optionally of one genre."""
        found = [t for t in self._tracks._tracks.values() if is_public(t) and (genre is None or t.genre == genre)]
        found.sort(key=lambda t: t.first_seen_at, reverse=True)
        return found[:limit]

    async def digests(self, limit: int) -> Sequence[tuple[datetime, Mapping[str, Any]]]:
        """Stored digests, newest first."""
        if self._state is None:
            return []
        out = [
            (datetime.fromisoformat(key[5:]), json.loads(value))
            for (namespace, key), value in self._state._data.items()
            if namespace == "digest" and key.startswith("week:")
        ]
        out.sort(key=lambda item: item[0], reverse=True)
        return out[:limit]

    async def rounds_of(self, track_id: TrackId) -> Sequence[tuple[int, int]]:
        """(round, entry number), newest round first."""
        if self._voting is None:
            return []
        pairs = [
            (round_id, entry.number)
            for round_id, entries in self._voting._entries.items()
            for entry in entries
            if entry.track_id == track_id
        ]
        return sorted(pairs, reverse=True)

    async def holders(self, cid: Cid) -> Sequence[str]:
        """Peers that announced the blob, and the origin of a replicated track with it."""
        store = self._federation
        if store is None:
            return []
        instances = {s["instance"] for s in store._sources.get(cid, []) if isinstance(s.get("instance"), str)}
        instances |= {m.origin for m in store._manifests.values() if m.cid == cid}
        return sorted(p.name for p in store._peers.values() if p.instance_id in instances)

    async def verdict_counts(self) -> Mapping[str, int]:
        """Active tracks per verdict."""
        counts: dict[str, int] = {}
        for track in self._tracks._tracks.values():
            if track.status is TrackStatus.ACTIVE:
                counts[track.verdict.value] = counts.get(track.verdict.value, 0) + 1
        return counts

"""``core.federation.ports.FederationStore`` in memory, beside ``storage.memory``'s track repository.

It keeps the SQLite store's semantics, checked by the replication contract tests: the first
saved manifest of a track wins (a later save only fills in its event id), a peer keeps its
account and key and first sighting, a source heard of before its track was queued is merged
in when the track is queued, outbox ids only grow, and ``atomic()`` rolls back the store and
the track repository together when the block raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.federation.ports import ManifestRow, OutboxItem, Peer, PeerStats, QueueItem
from core.model import Cid, Track, TrackId, TrackStatus
from storage.memory import MemoryTrackRepository

# The store whose atomic block the current task runs in (nested blocks join the outer one).
_ATOMIC: ContextVar[object | None] = ContextVar("memory_federation_atomic", default=None)


def _copy(document: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON round trip, as SQLite stores it: callers never share a stored document."""
    copied: dict[str, Any] = json.loads(json.dumps(document))
    return copied


@dataclass(frozen=True)
class _Queued:
    item: QueueItem
    due: datetime | None  # None: due at once (a new source was heard of)
    parked: bool = False  # gave up: waits for the operator's retry or drop


@dataclass(frozen=True)
class _Manifest:
    cid: Cid
    origin: str
    document: dict[str, Any]
    event_id: str | None


class MemoryFederationStore:
    """Peers, manifests, the fetch queue, the outbox and processed events, in dicts.

    ``tracks`` is the repository replicated tracks are recorded in; like the SQLite store,
    which reads the same database's tracks table, this store reads it for ``recorded``,
    ``manifests`` and ``peer_stats`` and rolls it back with its own state.
    """

    def __init__(self, tracks: MemoryTrackRepository) -> None:
        self._tracks = tracks
        self._lock = asyncio.Lock()
        self._peers: dict[str, Peer] = {}  # by instance id, in first-seen order
        self._retired: set[str] = set()  # instance ids whose key was rotated away
        self._seen: set[str] = set()
        self._manifests: dict[TrackId, _Manifest] = {}  # in insertion order, like SQLite's rowid
        self._queue: dict[TrackId, _Queued] = {}
        self._sources: dict[Cid, list[dict[str, str]]] = {}
        self._outbox: dict[int, tuple[str, dict[str, Any]]] = {}
        self._outbox_parked: dict[int, str] = {}  # item id -> its last error
        self._last_outbox_id = 0
        self._event_times: dict[TrackId, int] = {}  # issue 12: first manifest event per track

    # -- transactions ------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _atomic(self) -> AsyncIterator[MemoryFederationStore]:
        if _ATOMIC.get() is self:
            yield self  # nested: part of the enclosing block
            return
        async with self._lock:
            saved = [(owner, _state_of(owner)) for owner in (self, self._tracks)]
            token = _ATOMIC.set(self)
            try:
                yield self
            except BaseException:
                for owner, state in saved:
                    vars(owner).update(state)
                raise
            finally:
                _ATOMIC.reset(token)

    def atomic(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Writes inside (to this store and its track repository) commit or roll back together.

        Other tasks' writes to this store wait until the block ends, as they wait for SQLite's
        write lock; a rollback restores the track repository as the block found it.
        """
        return self._atomic()

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        if _ATOMIC.get() is self:
            yield
            return
        async with self._lock:
            yield

    # -- peers -------------------------------------------------------------------------

    async def upsert_peer(self, peer: Peer, at: datetime) -> None:
        async with self._writing():
            known = self._peers.get(peer.instance_id)
            if known is None:
                self._peers[peer.instance_id] = replace(peer, first_seen=at, last_seen=at)
            else:  # account, key and first sighting stay as first recorded
                self._peers[peer.instance_id] = replace(
                    known,
                    name=peer.name,
                    community=peer.community,
                    homepage=peer.homepage,
                    last_seen=at,
                )

    async def peer_by_user(self, user_id: str) -> Peer | None:
        bound = [p for p in self._peers.values() if p.user_id == user_id and p.instance_id not in self._retired]
        return min(bound, key=_first_seen) if bound else None

    async def rotate_peer(self, previous_instance_id: str, peer: Peer, at: datetime) -> None:
        self._retired.add(previous_instance_id)  # kept: its id stays claimed, its manifests keep their origin
        await self.upsert_peer(peer, at)
        self._retired.discard(peer.instance_id)  # rotating back to a key retired before

    async def peer_by_instance(self, instance_id: str) -> Peer | None:
        return self._peers.get(instance_id)

    async def touch_peer(self, user_id: str, at: datetime) -> None:
        async with self._writing():
            for instance_id, peer in list(self._peers.items()):
                if peer.user_id == user_id:
                    self._peers[instance_id] = replace(peer, last_seen=at)

    async def peer_stats(self) -> Sequence[PeerStats]:
        tracks = _all_tracks(self._tracks)
        stats = []
        for peer in sorted(self._peers.values(), key=lambda p: p.name):
            federated = {tid for tid, m in self._manifests.items() if m.origin == peer.instance_id}
            theirs = [t for t in tracks if t.id in federated and t.status is TrackStatus.ACTIVE]
            stats.append(PeerStats(peer, len(theirs), sum(t.size for t in theirs)))
        return stats

    # -- processed events --------------------------------------------------------------

    async def seen(self, event_id: str) -> bool:
        return event_id in self._seen

    async def mark_seen(self, event_id: str) -> bool:
        """Record an event as handled; False if it already was (handled at most once)."""
        async with self._writing():
            if event_id in self._seen:
                return False
            self._seen.add(event_id)
            return True

    async def seen_many(self, event_ids: Sequence[str]) -> set[str]:
        return {e for e in event_ids if e in self._seen}

    async def mark_seen_many(self, event_ids: Sequence[str]) -> set[str]:
        return {e for e in dict.fromkeys(event_ids) if await self.mark_seen(e)}

    # -- manifests ---------------------------------------------------------------------

    async def save_manifest(
        self,
        track_id: TrackId,
        cid: Cid,
        origin: str,
        manifest: Mapping[str, Any],
        event_id: str | None,
    ) -> None:
        async with self._writing():
            known = self._manifests.get(track_id)
            if known is None:
                self._manifests[track_id] = _Manifest(cid, origin, _copy(manifest), event_id)
            elif event_id is not None:  # the first manifest stays; a new event id is recorded
                self._manifests[track_id] = replace(known, event_id=event_id)

    async def save_event_time(self, track_id: TrackId, origin_server_ts: int) -> None:
        known = self._event_times.get(track_id)
        self._event_times[track_id] = origin_server_ts if known is None else min(known, origin_server_ts)

    async def save_manifests(self, rows: Sequence[ManifestRow]) -> None:
        for track_id, cid, origin, manifest, event_id in rows:
            await self.save_manifest(track_id, cid, origin, manifest, event_id)

    async def save_event_times(self, times: Sequence[tuple[TrackId, int]]) -> None:
        for track_id, origin_server_ts in times:
            await self.save_event_time(track_id, origin_server_ts)

    async def event_time(self, track_id: TrackId) -> int | None:
        return self._event_times.get(track_id)

    async def manifest(self, track_id: TrackId) -> Mapping[str, Any] | None:
        found = self._manifests.get(track_id)
        return _copy(found.document) if found else None

    async def manifests(self) -> AsyncIterator[Mapping[str, Any]]:
        """Every stored manifest except those of tracks taken down here."""
        for track_id, stored in list(self._manifests.items()):
            track = await self._tracks.get(track_id)
            if track is None or track.status is TrackStatus.ACTIVE:
                yield _copy(stored.document)

    async def track_for_event(self, event_id: str) -> TrackId | None:
        return next((tid for tid, m in self._manifests.items() if m.event_id == event_id), None)

    async def set_manifest_event(self, track_id: TrackId, event_id: str) -> None:
        async with self._writing():
            known = self._manifests.get(track_id)
            if known is not None:
                self._manifests[track_id] = replace(known, event_id=event_id)

    # -- fetch queue -------------------------------------------------------------------

    async def enqueue(self, item: QueueItem, due: datetime) -> bool:
        """Add a fetch; False if the track is already queued."""
        async with self._writing():
            if item.track_id in self._queue:
                return False
            fresh = QueueItem(
                item.track_id,
                item.cid,
                _copy(item.manifest),
                tuple(dict(s) for s in item.sources),
                0,
                None,
            )
            self._queue[item.track_id] = _Queued(fresh, due)
            for source in self._sources.get(item.cid, ()):
                self._merge_source(item.track_id, source)
            return True

    async def enqueue_many(self, items: Sequence[tuple[QueueItem, datetime]]) -> set[TrackId]:
        return {item.track_id for item, due in items if await self.enqueue(item, due)}

    def _merge_source(self, track_id: TrackId, source: Mapping[str, str]) -> None:
        queued = self._queue[track_id]
        if dict(source) not in [dict(s) for s in queued.item.sources]:
            item = replace(queued.item, sources=(*queued.item.sources, dict(source)))
            self._queue[track_id] = replace(queued, item=item)

    async def add_source(self, cid: Cid, source: Mapping[str, str]) -> None:
        async with self._writing():
            known = self._sources.get(cid, [])
            if dict(source) not in known:
                self._sources[cid] = [
                    *known,
                    dict(source),
                ]  # a new list: a rollback keeps the old one
            for track_id, queued in list(self._queue.items()):
                if queued.item.cid == cid:
                    self._merge_source(track_id, source)
                    if not self._queue[track_id].parked:
                        self._queue[track_id] = replace(self._queue[track_id], due=None)

    async def due(self, now: datetime, limit: int, exclude: Collection[TrackId] = ()) -> Sequence[QueueItem]:
        left_out = set(exclude)
        ready = [
            q
            for q in self._queue.values()
            if not q.parked and (q.due is None or q.due <= now) and q.item.track_id not in left_out
        ]
        ready.sort(key=lambda q: (q.due is not None, q.due or now))  # stable: ties keep queue order
        return [_item_copy(q.item) for q in ready[:limit]]

    async def recorded(self, track_ids: Iterable[TrackId]) -> set[TrackId]:
        """Which of these tracks already have a record here (one query for a whole batch)."""
        return {tid for tid in set(track_ids) if await self._tracks.get(tid) is not None}

    async def finish(self, track_id: TrackId) -> None:
        async with self._writing():
            self._queue.pop(track_id, None)

    async def finish_many(self, track_ids: Sequence[TrackId]) -> None:
        for track_id in track_ids:
            await self.finish(track_id)

    async def retry_later(self, track_id: TrackId, error: str, due: datetime) -> None:
        async with self._writing():
            queued = self._queue.get(track_id)
            if queued is not None:
                item = replace(queued.item, attempts=queued.item.attempts + 1, last_error=error)
                self._queue[track_id] = _Queued(item, due)

    async def queue_size(self) -> int:
        return sum(1 for q in self._queue.values() if not q.parked)

    async def failures(self, limit: int) -> Sequence[QueueItem]:
        failing = sorted(
            (q.item for q in self._queue.values() if q.item.attempts > 0 and not q.parked), key=lambda i: -i.attempts
        )
        return [_item_copy(i) for i in failing[:limit]]

    async def park_fetch(self, track_id: TrackId, error: str) -> None:
        async with self._writing():
            queued = self._queue.get(track_id)
            if queued is not None:
                item = replace(queued.item, attempts=queued.item.attempts + 1, last_error=error)
                self._queue[track_id] = _Queued(item, queued.due, parked=True)

    async def parked_fetches(self, limit: int) -> Sequence[QueueItem]:
        parked = sorted((q.item for q in self._queue.values() if q.parked), key=lambda i: i.track_id)
        return [_item_copy(i) for i in parked[:limit]]

    async def retry_fetches(self, track_id: TrackId | None) -> int:
        async with self._writing():
            chosen = [t for t, q in self._queue.items() if q.parked and track_id in (None, t)]
            for tid in chosen:
                self._queue[tid] = _Queued(replace(self._queue[tid].item, attempts=0), None)
            return len(chosen)

    async def drop_fetch(self, track_id: TrackId) -> bool:
        async with self._writing():
            return self._queue.pop(track_id, None) is not None

    async def queue_counts(self) -> Mapping[str, int]:
        counts = {"waiting": 0, "retrying": 0, "parked": 0}
        for q in self._queue.values():
            counts["parked" if q.parked else "retrying" if q.item.attempts else "waiting"] += 1
        return counts

    # -- outbox ------------------------------------------------------------------------

    async def outbox_add(self, kind: str, content: Mapping[str, Any]) -> int:
        async with self._writing():
            self._last_outbox_id += 1  # never reused, like AUTOINCREMENT
            self._outbox[self._last_outbox_id] = (kind, _copy(content))
            return self._last_outbox_id

    async def outbox_add_many(self, kind: str, contents: Sequence[Mapping[str, Any]]) -> None:
        for content in contents:
            await self.outbox_add(kind, content)

    async def outbox_pending(self, limit: int) -> Sequence[tuple[int, str, Mapping[str, Any]]]:
        pending = [(i, k, c) for i, (k, c) in sorted(self._outbox.items()) if i not in self._outbox_parked]
        return [(i, kind, _copy(content)) for i, kind, content in pending[:limit]]

    async def outbox_done(self, item_id: int) -> None:
        async with self._writing():
            self._outbox.pop(item_id, None)
            self._outbox_parked.pop(item_id, None)

    async def outbox_park(self, item_id: int, error: str) -> None:
        async with self._writing():
            if item_id in self._outbox:
                self._outbox_parked[item_id] = error

    async def outbox_parked(self, limit: int) -> Sequence[OutboxItem]:
        parked = sorted(self._outbox_parked.items())[:limit]
        return [OutboxItem(i, self._outbox[i][0], _copy(self._outbox[i][1]), error) for i, error in parked]

    async def outbox_retry(self, item_id: int | None) -> int:
        async with self._writing():
            chosen = [i for i in self._outbox_parked if item_id in (None, i)]
            for i in chosen:
                del self._outbox_parked[i]
            return len(chosen)

    async def outbox_drop(self, item_id: int) -> bool:
        async with self._writing():
            self._outbox_parked.pop(item_id, None)
            return self._outbox.pop(item_id, None) is not None


def _first_seen(peer: Peer) -> datetime:
    assert peer.first_seen is not None  # set by upsert_peer
    return peer.first_seen


def _item_copy(item: QueueItem) -> QueueItem:
    return replace(item, manifest=_copy(item.manifest), sources=tuple(dict(s) for s in item.sources))


def _state_of(owner: object) -> dict[str, Any]:
    """A copy of an object's containers deep enough to roll back: values are frozen or copied on write."""
    return {name: copy.copy(value) for name, value in vars(owner).items() if isinstance(value, (dict, list, set))} | {
        name: value for name, value in vars(owner).items() if isinstance(value, int)
    }


def _all_tracks(repo: MemoryTrackRepository) -> list[Track]:
    # The SQLite store counts a peer's tracks in the shared tracks table; the memory
    # repository has no port method listing every track, so read its dict.
    return list(repo._tracks.values())

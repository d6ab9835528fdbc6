"""What replication needs from storage and from the Matrix transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from core.model import Cid, TrackId


@dataclass(frozen=True)
class Peer:
    """Another instance, as its state event in a federation room describes it."""

    instance_id: str
    user_id: str  # the Matrix account that owns the key
    public_key: str
    name: str
    community: str = ""
    homepage: str = ""
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True)
class QueueItem:
    """A blob to fetch for a replicated track."""

    track_id: TrackId
    cid: Cid
    manifest: Mapping[str, Any]
    sources: tuple[Mapping[str, str], ...]
    attempts: int
    last_error: str | None = None


ManifestRow = tuple[TrackId, Cid, str, Mapping[str, Any], str | None]
"""(track id, CID, origin instance, manifest, event id): one ``save_manifest`` of a batch."""


@dataclass(frozen=True)
class OutboxItem:
    """Something waiting to be published; ``last_error`` is set once it is parked."""

    id: int
    kind: str
    content: Mapping[str, Any]
    last_error: str | None = None


class LastingSendError(Exception):
    """The homeserver refused an item for good (too large, forbidden): park it, send the rest.

    Raised by the transport; a network error or a rate limit is not lasting and holds the flush."""


@dataclass(frozen=True)
class PeerStats:
    """What a peer contributed here."""

    peer: Peer
    entries: int
    bytes: int


class FederationStore(Protocol):
    """Durable federation state: peers, manifests, fetch queue, outbox, seen events."""

    def atomic(self) -> AbstractAsyncContextManager[Any]:
        """Writes inside (to this store and the track repository) commit together."""
        ...

    async def upsert_peer(self, peer: Peer, at: datetime) -> None: ...
    async def peer_by_user(self, user_id: str) -> Peer | None: ...
    # a key rotation the old key signed: the old binding is retired, ``peer`` is the account's binding
    async def rotate_peer(self, previous_instance_id: str, peer: Peer, at: datetime) -> None: ...
    async def peer_by_instance(self, instance_id: str) -> Peer | None: ...
    async def peer_stats(self) -> Sequence[PeerStats]: ...
    async def touch_peer(self, user_id: str, at: datetime) -> None: ...

    async def seen(self, event_id: str) -> bool: ...
    async def mark_seen(self, event_id: str) -> bool:
        """Record an event as handled; False if it already was (handled at most once)."""
        ...

    async def seen_many(self, event_ids: Sequence[str]) -> set[str]:
        """Which of these events were handled already (one read for a page)."""
        ...

    async def mark_seen_many(self, event_ids: Sequence[str]) -> set[str]:
        """``mark_seen`` for a page at once; the ids not handled before (each once)."""
        ...

    async def save_manifest(
        self, track_id: TrackId, cid: Cid, origin: str, manifest: Mapping[str, Any], event_id: str | None
    ) -> None: ...
    async def save_manifests(self, rows: Sequence[ManifestRow]) -> None:
        """``save_manifest`` for each row, in order, in one write."""
        ...

    async def manifest(self, track_id: TrackId) -> Mapping[str, Any] | None: ...
    def manifests(self) -> AsyncIterator[Mapping[str, Any]]: ...
    async def track_for_event(self, event_id: str) -> TrackId | None: ...
    async def set_manifest_event(self, track_id: TrackId, event_id: str) -> None: ...
    async def save_event_time(self, track_id: TrackId, origin_server_ts: int) -> None:
        """Remember the homeserver time of a manifest event (the earliest one is kept)."""
        ...

    async def save_event_times(self, times: Sequence[tuple[TrackId, int]]) -> None:
        """``save_event_time`` for each (track, origin_server_ts) in one write."""
        ...

    async def event_time(self, track_id: TrackId) -> int | None:
        """The origin_server_ts (ms) of the first manifest event seen for a track."""
        ...

    async def enqueue(self, item: QueueItem, due: datetime) -> bool:
        """Add a fetch; False if the track is already queued."""
        ...

    async def enqueue_many(self, items: Sequence[tuple[QueueItem, datetime]]) -> set[TrackId]:
        """``enqueue`` for each (item, due) in one write; the tracks queued now (not before)."""
        ...

    async def add_source(self, cid: Cid, source: Mapping[str, str]) -> None: ...
    async def due(self, now: datetime, limit: int, exclude: Collection[TrackId] = ()) -> Sequence[QueueItem]:
        """Fetches due by ``now``, soonest first, leaving out ``exclude`` (those already under way)."""
        ...

    async def recorded(self, track_ids: Iterable[TrackId]) -> set[TrackId]:
        """Which of these tracks already have a record here (one query for a whole batch)."""
        ...

    async def finish(self, track_id: TrackId) -> None: ...
    async def finish_many(self, track_ids: Sequence[TrackId]) -> None: ...
    async def retry_later(self, track_id: TrackId, error: str, due: datetime) -> None: ...
    async def queue_size(self) -> int: ...
    async def failures(self, limit: int) -> Sequence[QueueItem]: ...
    async def park_fetch(self, track_id: TrackId, error: str) -> None:
        """Stop retrying a fetch that gave up; it waits for ``retry_fetches`` or ``drop_fetch``."""
        ...

    async def parked_fetches(self, limit: int) -> Sequence[QueueItem]: ...
    async def retry_fetches(self, track_id: TrackId | None) -> int:
        """Make parked fetches (one, or all with None) due now with fresh attempts; how many."""
        ...

    async def drop_fetch(self, track_id: TrackId) -> bool: ...
    async def queue_counts(self) -> Mapping[str, int]:
        """Fetch queue items by state: ``waiting`` (never tried), ``retrying``, ``parked``."""
        ...

    async def outbox_add(self, kind: str, content: Mapping[str, Any]) -> int: ...
    async def outbox_add_many(self, kind: str, contents: Sequence[Mapping[str, Any]]) -> None: ...
    async def outbox_pending(self, limit: int) -> Sequence[tuple[int, str, Mapping[str, Any]]]: ...
    async def outbox_done(self, item_id: int) -> None: ...
    async def outbox_park(self, item_id: int, error: str) -> None:
        """Set an item aside with its error; ``outbox_pending`` skips it from now on."""
        ...

    async def outbox_parked(self, limit: int) -> Sequence[OutboxItem]: ...
    async def outbox_retry(self, item_id: int | None) -> int:
        """Put parked items (one, or all with None) back in line; how many."""
        ...

    async def outbox_drop(self, item_id: int) -> bool: ...


class BlobSource(Protocol):
    """Opens a listed source (``{"mxc": ...}`` or ``{"http": ...}``) as a byte stream."""

    def open(self, source: Mapping[str, str], max_bytes: int) -> AsyncIterator[bytes]: ...


class FederationTransport(Protocol):
    """Sends to every federation room (the Matrix adapter)."""

    async def upload(self, path: Path, media_type: str, size: int) -> str:
        """Upload a file; its mxc URI."""
        ...

    async def send(self, event_type: str, content: Mapping[str, Any]) -> str:
        """Send a timeline event to the federation rooms; an event id."""
        ...

    async def put_state(self, event_type: str, state_key: str, content: Mapping[str, Any]) -> None:
        """Set a state event in every federation room."""
        ...

    async def withdraw(self, track_id: str, cid: str, reason: str | None) -> None:
        """Take back what this instance posted of a taken-down track: its events and uploads."""
        ...


class FederationInfo(Protocol):
    """What the chat commands may show about federation (the running federation part)."""

    async def peer_stats(self) -> Sequence[PeerStats]:
        """Peers seen, with what each contributed here."""
        ...

    async def status(self) -> Mapping[str, Any]:
        """Rooms, checkpoint, queue size, outbox size and failing fetches."""
        ...

"""Ports of provenance v2: generator confirmers, the confirmation store, the near-duplicate index.

* A ``GeneratorConfirmer`` looks a song id up on the generator's own public page and
  reports what the page serves (its audio's fingerprint and address, title, duration).
* A ``ConfirmationStore`` keeps the queue of tracks waiting for confirmation (with
  backoff) and caches each finished confirmation with the page's facts.
* A ``NearDuplicateIndex`` finds stored fingerprints that may sound like a new one
  without comparing against every stored track.

Each has an in-memory implementation (``storage.memory_provenance``) and a real one.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.model import Cid, Evidence, Fingerprint, TrackId


class LookupStatus(enum.StrEnum):
    """What asking the generator's page for a song id gave."""

    FOUND = "found"  # the page serves audio for this song id
    NOT_PUBLIC = "not_public"  # 401/403/404/410: private, removed, or never public
    NO_SONG = "no_song"  # the page answered but has no playable song for this id
    UNREACHABLE = "unreachable"  # network trouble, 5xx, timeouts: try again later


@dataclass(frozen=True)
class GeneratorPage:
    """What a generator's public page says about one song, with its audio measured."""

    generator: str
    song_id: str
    page_url: str
    title: str | None = None
    creator: str | None = None
    duration_s: float | None = None
    audio_url: str | None = None
    audio_cid: Cid | None = None  # address of the bytes the page served
    fingerprint: Fingerprint | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # JSON-able page facts (style, model ...)


@dataclass(frozen=True)
class PageLookup:
    """The answer of one confirmer call."""

    status: LookupStatus
    page: GeneratorPage | None = None
    detail: str = ""  # why, for the log and the card (member-safe text)


class GeneratorConfirmer(Protocol):
    """Asks one generator (Suno, Udio ...) what its public page serves for a song id."""

    @property
    def generator(self) -> str:
        """The generator's name as provenance uses it (``suno``)."""
        ...

    async def look_up(self, song_id: str) -> PageLookup:
        """Fetch the song's public page and its audio; never raises for network trouble."""
        ...


class ConfirmationState(enum.StrEnum):
    """Where a track's confirmation stands."""

    PENDING = "pending"  # waiting (first try or a retry after backoff)
    CONFIRMED = "confirmed"  # the generator serves the same audio
    TITLE_DIFFERS = "title_differs"  # same audio, but the page names another title
    MISMATCH = "mismatch"  # the page serves different audio for this song id
    MISSING = "missing"  # the page has no song for this id
    NOT_PUBLIC = "not_public"  # the generator does not show the song publicly
    GAVE_UP = "gave_up"  # unreachable every time up to the attempt limit
    SKIPPED = "skipped"  # the track is gone or taken down


@dataclass(frozen=True)
class PendingConfirmation:
    """A track waiting for its generator to confirm it, with what the file said."""

    track_id: TrackId
    generator: str
    song_id: str
    cid: Cid
    duration_s: float
    file_title: str | None
    fingerprint: Fingerprint | None
    attempts: int
    due: datetime


@dataclass(frozen=True)
class ConfirmationRecord:
    """A track's confirmation row: its state, attempts and (when done) the evidence."""

    track_id: TrackId
    generator: str
    song_id: str
    state: ConfirmationState
    attempts: int
    due: datetime
    checked_at: datetime | None
    evidence: Evidence | None
    last_error: str | None


class ConfirmationStore(Protocol):
    """The confirmation queue and the cache of generator pages."""

    async def enqueue(self, item: PendingConfirmation) -> bool:
        """Queue a track (False when it is already queued or done)."""
        ...

    async def due(self, now: datetime, limit: int = 20) -> Sequence[PendingConfirmation]:
        """Pending confirmations due at ``now``, earliest first."""
        ...

    async def retry_later(self, track_id: TrackId, attempts: int, due: datetime, error: str) -> None:
        """Count a failed attempt and set the next try."""
        ...

    async def finish(
        self, track_id: TrackId, state: ConfirmationState, checked_at: datetime, evidence: Evidence | None
    ) -> None:
        """Record the final state and the evidence it produced."""
        ...

    async def get(self, track_id: TrackId) -> ConfirmationRecord | None:
        """A track's confirmation row."""
        ...

    async def cached_page(self, generator: str, song_id: str, fresh_since: datetime) -> PageLookup | None:
        """A page lookup (found / not public / no song) made since ``fresh_since``."""
        ...

    async def cache_page(self, lookup: PageLookup, generator: str, song_id: str, checked_at: datetime) -> None:
        """Remember a page lookup (never an unreachable one)."""
        ...


@dataclass(frozen=True)
class IndexCandidate:
    """A stored fingerprint that shares LSH bands with the query."""

    track_id: TrackId
    fingerprint: Fingerprint
    hits: int  # how many bands matched


class NearDuplicateIndex(Protocol):
    """Banded LSH over Chromaprint sub-fingerprints (see ``core.near_dup``)."""

    async def add(self, track_id: TrackId, fingerprint: Fingerprint) -> None:
        """Index (or re-index) a track's fingerprint."""
        ...

    async def remove(self, track_id: TrackId) -> None:
        """Forget a track (takedown, deletion)."""
        ...

    async def candidates(self, fingerprint: Fingerprint, limit: int = 20) -> Sequence[IndexCandidate]:
        """Stored tracks sharing bands with ``fingerprint``, most bands first."""
        ...

    async def count(self) -> int:
        """How many tracks are indexed."""
        ...

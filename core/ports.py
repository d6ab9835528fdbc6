"""The ports the core needs from the outside world, as Protocols.

Each port has an in-memory implementation (``storage.memory``) for unit tests and a real
one; both pass the same contract tests in ``tests/contract``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from core.model import (
    AudioInfo,
    Cid,
    Evidence,
    Fingerprint,
    PageInfo,
    QualityReport,
    Share,
    Sharer,
    Track,
    TrackId,
    TrackStatus,
    Verdict,
)
from core.voting_model import Ballot, Entry, Phase, Round, RoundRules, Voter


class Clock(Protocol):
    """Where time comes from, so rounds and digests are tested without sleeping."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


@dataclass(frozen=True)
class VerifyReport:
    """What a scrub of the blob pool found."""

    checked: int
    ok: int
    corrupt: tuple[Cid, ...]  # moved aside to the pool's corrupt/ folder
    bytes_checked: int


class BlobPool(Protocol):
    """Content-addressed blob storage: the address is the CIDv1 of the bytes."""

    async def put_file(self, path: Path, max_size: int | None = None) -> tuple[Cid, int]:
        """Copy a file into the pool, hashing while streaming; atomic; idempotent."""
        ...

    async def put_stream(
        self,
        chunks: AsyncIterator[bytes],
        max_size: int | None = None,
        expect: Cid | None = None,
        sync_name: bool = True,
    ) -> tuple[Cid, int]:
        """Store a stream; raise TooLargeError past max_size, IntegrityError if not ``expect``.

        With ``sync_name=False`` the blob is whole or absent after a crash, but its name is
        durable only after the next ``sync_names()`` (batching one journal commit per wave).
        """
        ...

    async def sync_names(self) -> None:
        """Make the names of blobs stored with ``sync_name=False`` durable."""
        ...

    async def has(self, cid: Cid) -> bool:
        """Whether the blob is present."""
        ...

    async def read(self, cid: Cid) -> bytes:
        """The whole blob, verified against its address (IntegrityError if not)."""
        ...

    def stream(self, cid: Cid, chunk_size: int = 262144) -> AsyncIterator[bytes]:
        """The blob in chunks; raises IntegrityError after the last chunk if it is corrupt."""
        ...

    async def local_path(self, cid: Cid) -> Path | None:
        """A readable path to the blob for tools that need a file (ffmpeg, uploads)."""
        ...

    async def delete(self, cid: Cid) -> bool:
        """Remove a blob (garbage collection, takedown); True if it was there."""
        ...

    def cids(self) -> AsyncIterator[Cid]:
        """Every stored address."""
        ...

    async def size_of(self, cid: Cid) -> int | None:
        """Stored size in bytes, None if absent."""
        ...

    async def total_bytes(self) -> int:
        """Bytes used by all blobs."""
        ...

    async def verify(self) -> VerifyReport:
        """Re-hash every blob; move corrupt ones aside and report them."""
        ...

    async def clean_temp(self) -> int:
        """Remove temp files left by a crash; returns how many."""
        ...


class TrackRepository(Protocol):
    """Track records, shares and fingerprints."""

    async def add(self, track: Track, share: Share | None = None, fingerprint: Fingerprint | None = None) -> None:
        """Store a new track with its first share and fingerprint, all or nothing."""
        ...

    async def add_many(self, tracks: Sequence[Track]) -> None:
        """Store new tracks without shares or fingerprints (replicas), all or nothing."""
        ...

    async def get(self, track_id: TrackId) -> Track | None:
        """One track by id."""
        ...

    async def get_many(self, track_ids: Sequence[TrackId]) -> dict[TrackId, Track]:
        """Tracks by id in one read (missing ids are left out)."""
        ...

    async def find_by_cid(self, cid: Cid) -> Sequence[Track]:
        """Tracks whose bytes have this address (oldest first)."""
        ...

    async def resolve(self, ref: str) -> Track | None:
        """A track by id, CID or unambiguous prefix of either (at least 6 characters)."""
        ...

    async def search(self, text: str, limit: int = 10) -> Sequence[Track]:
        """Tracks whose title, artist, prompt, style or tags match the text."""
        ...

    async def recent(self, limit: int = 20, since: datetime | None = None) -> Sequence[Track]:
        """Newest tracks first."""
        ...

    async def by_verdict(self, verdict: Verdict, limit: int = 50) -> Sequence[Track]:
        """Active tracks with this verdict, oldest first (the review queue)."""
        ...

    async def by_sharer(self, platform: str, user_id: str, limit: int = 50) -> Sequence[Track]:
        """A member's own tracks, newest first."""
        ...

    async def set_verdict(
        self, track_id: TrackId, verdict: Verdict, reason: str, evidence: Sequence[Evidence] | None = None
    ) -> None:
        """Change a track's verdict (moderation, confirmation); ``evidence`` replaces the card's evidence."""
        ...

    async def set_status(self, track_id: TrackId, status: TrackStatus) -> None:
        """Mark a track taken down (or active again)."""
        ...

    async def set_genre(self, track_id: TrackId, genre: str | None) -> None:
        """Move a track to another genre."""
        ...

    async def add_share(self, share: Share) -> None:
        """Record a sighting of a track."""
        ...

    async def shares_since(self, platform: str, user_id: str, since: datetime) -> int:
        """How many shares a member made since a time (the share rate limit)."""
        ...

    async def shares(self, track_id: TrackId) -> Sequence[Share]:
        """Every sighting, oldest first."""
        ...

    async def add_fingerprint(self, track_id: TrackId, fingerprint: Fingerprint) -> None:
        """Index a fingerprint for near-duplicate search."""
        ...

    async def fingerprint_candidates(
        self, fingerprint: Fingerprint, limit: int = 20
    ) -> Sequence[tuple[TrackId, Fingerprint]]:
        """Tracks sharing sub-fingerprint buckets with this one, most shared first."""
        ...

    async def fingerprint(self, track_id: TrackId) -> Fingerprint | None:
        """The stored fingerprint of a track, if it has one."""
        ...

    async def referenced_cids(self) -> set[Cid]:
        """Addresses referenced by any track that is not taken down (for GC)."""
        ...

    async def count(self) -> int:
        """Number of tracks."""
        ...


@dataclass(frozen=True)
class TagInfo:
    """Embedded tags, normalised across ID3, Vorbis comments, MP4 atoms and RIFF INFO."""

    format: str  # id3 | vorbis | mp4 | riff | none
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    comment: str | None = None
    lyrics: str | None = None
    url: str | None = None  # WOAS / source URL
    genre: str | None = None
    style: str | None = None  # style / description text
    encoder: str | None = None
    raw: dict[str, str] = field(default_factory=dict)  # every text tag, each value capped


@dataclass(frozen=True)
class C2paInfo:
    """A C2PA manifest as read and validated."""

    state: str  # Trusted | Valid | Invalid
    signer: str | None
    claim_generator: str | None
    digital_source_types: tuple[str, ...]
    actions: tuple[str, ...]
    failure_codes: tuple[str, ...]
    vendor_assertions: dict[str, Any] = field(default_factory=dict)
    signed_at: str | None = None


class MediaInspector(Protocol):
    """Looks inside audio files: container, tags, C2PA, quality, fingerprint."""

    async def probe(self, path: Path) -> AudioInfo:
        """Sniff and probe; NotAudioError / CorruptAudioError when it is not usable audio."""
        ...

    async def tags(self, path: Path) -> TagInfo:
        """Embedded tags (never raises for odd tags; returns format 'none')."""
        ...

    async def c2pa(self, path: Path, media_type: str) -> C2paInfo | None:
        """The active C2PA manifest, or None when there is none."""
        ...

    async def quality(self, path: Path) -> QualityReport:
        """Loudness, true peak, silence and clipping from one ffmpeg pass."""
        ...

    async def fingerprint(self, path: Path) -> Fingerprint | None:
        """Chromaprint raw fingerprint, None when the audio is too short."""
        ...


@dataclass(frozen=True)
class FetchedLink:
    """Audio downloaded from a link into a local temp file, with what its page said."""

    path: Path  # a temp file the caller deletes after ingest
    size: int
    page: PageInfo
    content_type: str | None = None


class LinkFetcher(Protocol):
    """Resolves a shared URL (generator page, media page, direct audio) to audio bytes."""

    async def fetch(self, url: str, dest_dir: Path, max_bytes: int) -> FetchedLink:
        """Download the audio behind ``url``; UnsafeUrlError, FetchError, TooLargeError."""
        ...


# -- ports of the community services ---------------------------------------------------


class VotingRepository(Protocol):
    """Rounds, entries, ballots and track votes (durable when a call returns)."""

    async def create_round(
        self,
        rules: RoundRules,
        created_by: Sharer,
        created_at: datetime,
        submit_until: datetime,
        vote_until: datetime,
        place: str,
    ) -> Round: ...
    async def get_round(self, round_id: int) -> Round | None: ...
    async def open_rounds(self) -> Sequence[Round]: ...
    async def recent_rounds(self, limit: int = 10) -> Sequence[Round]: ...
    async def set_phase(self, round_id: int, phase: Phase, expected: Phase) -> bool:
        """Move a round from ``expected`` to ``phase``; False if it was not in ``expected``."""
        ...

    async def set_deadlines(self, round_id: int, submit_until: datetime, vote_until: datetime) -> None: ...
    async def add_entry(self, round_id: int, track_id: TrackId, submitter: Sharer, at: datetime) -> Entry: ...
    async def entries(self, round_id: int) -> Sequence[Entry]: ...
    async def first_entries(self, round_id: int, limit: int) -> tuple[Sequence[Entry], int]:
        """The first ``limit`` entries in submission order, and how many the round has."""
        ...

    async def entry(self, round_id: int, number: int) -> Entry | None:
        """One entry by its number."""
        ...

    async def ballots_of(self, round_id: int, voter: Voter) -> dict[int, int]:
        """A member's ballots in a round: entry number -> value."""
        ...

    async def voter_count(self, round_id: int) -> int:
        """How many members voted in a round."""
        ...

    async def set_ballot(self, ballot: Ballot) -> int | None:
        """Store a ballot; returns the value it replaced, if any."""
        ...

    async def delete_ballot(self, round_id: int, entry: int, voter: Voter) -> int | None: ...
    async def ballots(self, round_id: int) -> Sequence[Ballot]: ...
    async def set_track_vote(self, track_id: TrackId, voter: Voter, value: int, at: datetime) -> int | None: ...
    async def get_track_vote(self, track_id: TrackId, voter: Voter) -> int | None: ...
    async def delete_track_vote(self, track_id: TrackId, voter: Voter) -> int | None: ...
    async def track_vote_totals(self, since: datetime, limit: int) -> Sequence[tuple[TrackId, int, int]]:
        """(track, sum of values, voters) of votes cast since ``since``, best first."""
        ...

    async def track_votes(self, track_ids: Sequence[TrackId]) -> dict[TrackId, int]: ...


class GenrePlaces(Protocol):
    """Runtime places of genres, set with ``genre set`` (persisted)."""

    async def get_all(self) -> dict[tuple[str, str], str]:
        """(genre, platform) -> place."""
        ...

    async def put(self, genre: str, platform: str, place: str | None) -> None:
        """Set (or clear with None) a genre's place on a platform."""
        ...


class KeyValue(Protocol):
    """A small durable store (the bots' state table)."""

    async def get(self, namespace: str, key: str) -> str | None: ...
    async def put(self, namespace: str, key: str, value: str) -> None: ...


class PeerDigests(Protocol):
    """What peers' published digests say: (peer name, its week's top titles), blocked peers left out."""

    async def highlights(self) -> list[tuple[str, list[str]]]: ...


class ShareCounter(Protocol):
    """How many shares a member made since a time."""

    async def shares_since(self, platform: str, user_id: str, since: datetime) -> int: ...

"""What curation reads and stores: vote and track facts, boosts, remix lineage.

Reputation and recommendations learn from facts the pool already keeps (track votes,
re-shares, who shared what); boosts and lineage links are curation's own records. The
port is one Protocol so SQLite and the in-memory fake pass one contract.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.model import Cid, TrackId

Member = tuple[str, str]
"""(platform, user id): a member as votes and shares record them."""


class Relation(enum.StrEnum):
    """How a track derives from its parent."""

    REMIX = "remix"
    EXTEND = "extend"
    COVER = "cover"
    SAMPLE = "sample"
    STEMS = "stems"  # one of the parent's stems, shared as its own file


class SignalKind(enum.StrEnum):
    """What a like-signal is: a vote, or a member sharing the same bytes again."""

    VOTE = "vote"
    RESHARE = "reshare"


@dataclass(frozen=True)
class VoteFact:
    """A member liked a track (voted for it, or shared the same bytes again) at a time."""

    track_id: TrackId
    member: Member
    at: datetime
    kind: SignalKind = SignalKind.VOTE


VoteRow = tuple[TrackId, str, str, int]
"""A positive vote, compactly (a rebuild reads millions): track, platform, user id, epoch s."""


@dataclass(frozen=True)
class TrackFact:
    """What curation needs of a public track: its sharer, genre, words and age."""

    track_id: TrackId
    sharer: Member
    genre: str | None
    text: str  # title, prompt and style: the words cold start compares
    at: datetime


@dataclass(frozen=True)
class Penalty:
    """A member's track a moderator rejected or took down."""

    track_id: TrackId
    title: str
    taken_down: bool  # False: rejected
    at: datetime


@dataclass(frozen=True)
class LineageLink:
    """A child track and the parent it derives from (by CID, so it crosses instances)."""

    child_id: TrackId
    child_cid: Cid
    parent_cid: Cid
    relation: Relation
    at: datetime


class CurationStore(Protocol):
    """Facts for reputation and recommendations; boosts; lineage links."""

    async def likes_since(self, after: datetime | None) -> Sequence[VoteFact]:
        """Votes on tracks (and re-shares) recorded after ``after`` (all when None), oldest first."""
        ...

    def vote_pages(self) -> AsyncIterator[Sequence[VoteRow]]:
        """Every positive vote, oldest first, a page at a time (a rebuild of the index reads
        millions: pages of plain rows keep both the memory and each read short)."""
        ...

    async def reshares(self) -> Sequence[VoteFact]:
        """Every re-share (a member sharing a track someone else shared first), oldest first."""
        ...

    async def likes_of(self, member: Member) -> set[TrackId]:
        """Every track the member voted on or shared (fresh from storage, not the index)."""
        ...

    async def track_facts_since(self, after: datetime | None) -> Sequence[TrackFact]:
        """Public tracks first seen after ``after`` (all when None), oldest first."""
        ...

    def track_fact_pages(self) -> AsyncIterator[Sequence[TrackFact]]:
        """Every public track, in the order stored, a page at a time (for a rebuild)."""
        ...

    async def penalties(self, member: Member) -> Sequence[Penalty]:
        """The member's tracks that were rejected or taken down."""
        ...

    async def add_boost(self, track_id: TrackId, member: Member, at: datetime) -> bool:
        """Record a boost; False when the member had boosted this track already."""
        ...

    async def remove_boost(self, track_id: TrackId, member: Member) -> bool:
        """Withdraw a boost; False when there was none."""
        ...

    async def boosters(self, track_id: TrackId) -> Sequence[Member]:
        """Who boosted a track, earliest first."""
        ...

    async def boost_counts(self, track_ids: Sequence[TrackId]) -> dict[TrackId, int]:
        """Local boosts per track (tracks without boosts are left out)."""
        ...

    async def set_peer_boosts(self, cid: Cid, origin: str, count: int, at: datetime) -> bool:
        """Store a peer's signed boost count of its track; False when ``at`` is not newer."""
        ...

    async def peer_boosts(self, cid: Cid) -> int:
        """The boost count a peer signed for a track (0 when none)."""
        ...

    async def add_link(self, link: LineageLink) -> None:
        """Record that a track derives from a parent (one parent per child; the first stays)."""
        ...

    async def parent_of(self, child_id: TrackId) -> LineageLink | None:
        """The link to a track's parent, or None."""
        ...

    async def children_of(self, parent_cid: Cid) -> Sequence[LineageLink]:
        """Tracks that derive from a parent, oldest first."""
        ...

    async def most_remixed(self, since: datetime, limit: int) -> Sequence[tuple[Cid, int]]:
        """Parents with the most children linked since a time, most first."""
        ...

    async def add_play(self, track_id: TrackId, at: datetime) -> None:
        """Count a web play of a track (nothing about who played it is kept)."""
        ...

    async def plays_since(self, after: datetime | None) -> Sequence[tuple[TrackId, datetime]]:
        """Web plays recorded after ``after`` (all when None), oldest first."""
        ...

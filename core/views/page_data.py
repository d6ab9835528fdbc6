"""What each public web page shows, as plain data, and the read port the pages need.

The web adapter (``bots/web``) renders these; nothing here knows HTML. Every track in
them already passed ``core.visibility.is_public``, and entrants of anonymous rounds are
already hidden, so a template cannot leak what the chat would not show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from core.model import Cid, Sharer, Track, TrackId
from core.voting_model import Round

if TYPE_CHECKING:
    from core.views.federated_round_page import FederatedRoundView


class WebCatalog(Protocol):
    """Reads the pages need that no service offers (implemented in ``storage``)."""

    async def public_recent(self, limit: int, genre: str | None = None) -> Sequence[Track]:
        """Public tracks (active, verified or declared), newest first, optionally of one genre.

        For lists and feeds: the tracks may come without evidence, quality report, lyrics and tags.
        """
        ...

    async def digests(self, limit: int) -> Sequence[tuple[datetime, Mapping[str, Any]]]:
        """Published digests (week ending, stored ``{"title", "data"}``), newest first."""
        ...

    async def rounds_of(self, track_id: TrackId) -> Sequence[tuple[int, int]]:
        """(round id, entry number) for every round the track was entered in."""
        ...

    async def holders(self, cid: Cid) -> Sequence[str]:
        """Names of the peers known to hold these bytes."""
        ...


@dataclass(frozen=True)
class DigestSummary:
    """One published digest: its week (``YYYY-MM-DD``), title and stored data."""

    week: str
    week_ending: datetime
    title: str
    data: Mapping[str, Any]
    top: tuple[tuple[Track, int], ...] = ()  # the public ones among its top tracks, with votes


@dataclass(frozen=True)
class PeerSummary:
    """A federated peer as the home page lists it."""

    name: str
    community: str
    homepage: str
    entries: int


@dataclass(frozen=True)
class HomePage:
    """``/``: the community at a glance."""

    community: str
    instance_name: str
    latest_digest: DigestSummary | None
    newest: tuple[Track, ...]
    open_rounds: tuple[Round, ...]
    genres: tuple[str, ...]
    peers: tuple[PeerSummary, ...]
    boosts: Mapping[TrackId, int] = field(default_factory=dict)  # curators' boosts of the tracks listed


@dataclass(frozen=True)
class PromptRef:
    """A prompt of the library as a page lists it."""

    id: str
    kind: str
    text: str
    generator: str | None
    tracks: int
    votes: int


@dataclass(frozen=True)
class RoundRef:
    """A round a track was entered in."""

    round_id: int
    theme: str
    entry: int
    phase: str


@dataclass(frozen=True)
class LineageView:
    """A track's parent (``parent`` None: known only by CID, or not public) and its public children."""

    parent_cid: Cid | None
    parent: Track | None
    relation: str | None
    children: tuple[tuple[Track, str], ...]  # (child, relation), oldest first


@dataclass(frozen=True)
class TrackPage:
    """``/tracks/<id>``: the track, its provenance card and where it stands."""

    track: Track
    first_sharer: Sharer | None
    shares: int
    holders: tuple[str, ...]
    votes: int
    rounds: tuple[RoundRef, ...]
    similar_prompts: tuple[PromptRef, ...]
    boosts: int = 0  # curators here who boosted it
    peer_boosts: int = 0  # the count its origin signed (a peer's track)
    lineage: LineageView | None = None


@dataclass(frozen=True)
class GenrePage:
    """``/genres/<name>``: the newest public tracks of a genre."""

    name: str
    tracks: tuple[Track, ...]
    boosts: Mapping[TrackId, int] = field(default_factory=dict)  # curators' boosts of the tracks listed


@dataclass(frozen=True)
class EntryView:
    """One round entry; ``entrant`` is "anonymous" until the results of an anonymous round."""

    number: int
    track: Track | None  # None when the track is no longer public
    entrant: str
    rank: int | None = None
    votes: int | None = None
    score: float | None = None


@dataclass(frozen=True)
class RoundPage:
    """``/rounds/<id>``: the round, its entries, and the results once closed."""

    round: Round
    entries: tuple[EntryView, ...]
    results: bool
    federated: FederatedRoundView | None = None  # issue 18: a cross-community round's communities and results


@dataclass(frozen=True)
class DigestPage:
    """``/digests/<week>``: one digest and every past one."""

    digest: DigestSummary
    past: tuple[DigestSummary, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class PromptSearchPage:
    """``/prompts?q=``."""

    query: str
    prompts: tuple[PromptRef, ...]


@dataclass(frozen=True)
class SearchPage:
    """``/search?q=``."""

    query: str
    tracks: tuple[Track, ...]

"""Domain events: typed records of what changed, kept in the outbox."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from core.model import TrackId


class EventKind(enum.StrEnum):
    """Every kind of change a surface may need to hear of."""

    TRACK_ACCEPTED = "track.accepted"  # a local share, verified or declared
    TRACK_QUARANTINED = "track.quarantined"  # a local share waiting for review
    TRACK_APPROVED = "track.approved"  # a moderator accepted a quarantined track
    TRACK_REJECTED = "track.rejected"  # a moderator refused a track
    TRACK_TAKEN_DOWN = "track.taken_down"  # here, or by a peer's signed takedown
    TRACK_GENRE_CHANGED = "track.genre_changed"
    TRACK_REPLICATED = "track.replicated"  # a peer's track arrived with its bytes
    TRACK_VERIFIED = "track.verified"  # the generator confirmed a declared track
    ROUND_STARTED = "round.started"
    ROUND_VOTING_OPENED = "round.voting_opened"
    ROUND_CLOSED = "round.closed"
    DIGEST_PUBLISHED = "digest.published"
    TRACK_BOOSTED = "track.boosted"  # a curator boosted a track (issue 17: may pass the publish gate)
    TRACK_REMIXED = "track.remixed"  # a share named this event's track's parent (issue 17)
    FEDERATED_ROUND_ANNOUNCED = "federated_round.announced"  # a peer announced a cross-community round
    FEDERATED_ROUND_LEFT = "federated_round.left"  # this community left a federated round
    FEDERATED_ROUND_RESULTS = "federated_round.results"  # every tally is in (or the deadline passed)
    FEDERATED_ROUND_ENTRY = "federated_round.entry"  # a peer's entry entered the local round (track_id)
    FEDERATED_ROUND_RESCHEDULED = "federated_round.rescheduled"  # the organiser closed a phase early
    FEDERATED_ROUND_CANCELLED = "federated_round.cancelled"  # the organiser cancelled before voting


class Origin(enum.StrEnum):
    """Where a change came from: this instance, or a peer through the federation."""

    LOCAL = "local"
    PEER = "peer"


@dataclass(frozen=True)
class DomainEvent:
    """One change: its kind, the track or round it is about, and small typed extras."""

    kind: EventKind
    track_id: TrackId | None = None
    round_id: int | None = None
    origin: Origin = Origin.LOCAL
    peer: str | None = None  # the peer instance's name, for changes that came from one
    week_ending: datetime | None = None  # DIGEST_PUBLISHED
    reason: str | None = None
    was_public: bool = False  # TRACK_REJECTED / TAKEN_DOWN: the track had been accepted (and so published)
    federated_round: str | None = None  # FEDERATED_ROUND_*: the federated round's id


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored: its position in the outbox and when it was recorded."""

    seq: int
    at: datetime
    event: DomainEvent

    @property
    def kind(self) -> EventKind:
        """The event's kind."""
        return self.event.kind

    def delivery_key(self, subscriber: str, part: int = 0) -> str:
        """A stable id for one delivery (a chat platform's idempotency key)."""
        return f"wp{self.seq}{subscriber[:2]}{part}"


def to_record(event: DomainEvent) -> Mapping[str, object]:
    """The event's extras as a JSON-ready mapping (the storage column)."""
    out: dict[str, object] = {"origin": event.origin.value}
    if event.peer is not None:
        out["peer"] = event.peer
    if event.week_ending is not None:
        out["week_ending"] = event.week_ending.isoformat()
    if event.reason is not None:
        out["reason"] = event.reason
    if event.was_public:
        out["was_public"] = True
    if event.federated_round is not None:
        out["federated_round"] = event.federated_round
    return out


def from_record(kind: str, track_id: str | None, round_id: int | None, extras: Mapping[str, object]) -> DomainEvent:
    """Rebuild an event from its stored columns."""
    week = extras.get("week_ending")
    return DomainEvent(
        kind=EventKind(kind),
        track_id=TrackId(track_id) if track_id else None,
        round_id=round_id,
        origin=Origin(str(extras.get("origin", "local"))),
        peer=str(extras["peer"]) if extras.get("peer") is not None else None,
        week_ending=datetime.fromisoformat(str(week)) if week else None,
        reason=str(extras["reason"]) if extras.get("reason") is not None else None,
        was_public=bool(extras.get("was_public", False)),
        federated_round=str(extras["federated_round"]) if extras.get("federated_round") is not None else None,
    )

"""Cross-community rounds: the records every participating instance keeps about one round.

A federated round is announced by one instance (the organiser) in a federation room; each
other instance opts in (or not) and, once in, runs it as a local round linked to it. At
the close of voting each participant publishes a tally of its own voters; every instance
combines the same tallies into the same results.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from core.voting_model import BallotType


class Participation(enum.StrEnum):
    """Where this instance stands in a federated round."""

    ORGANISER = "organiser"  # this instance announced it
    INVITED = "invited"  # announced by a peer; moderators may join
    JOINED = "joined"  # opted in: runs as a local round here
    LEFT = "left"  # opted in, then left before voting
    CANCELLED = "cancelled"  # the organiser cancelled it before voting


class TallyStatus(enum.StrEnum):
    """Whether a received tally counts, and if not, why."""

    COUNTED = "counted"
    LATE = "late"  # sent after the tally deadline
    FORGED = "forged"  # unsigned, wrong key, or a sender that does not own the key
    NOT_OPTED_IN = "not opted in"  # from an instance that is not a participant
    DUPLICATE = "duplicate"  # a second tally of the same instance (the first one counts)


@dataclass(frozen=True)
class FederatedRound:
    """A cross-community round as this instance knows it."""

    id: str  # "<organiser instance id>:<its local round number>"
    organiser: str
    organiser_name: str
    room: str  # the federation room it was announced in
    theme: str
    ballot: BallotType
    max_approvals: int
    entries_per_member: int
    anonymous: bool
    genre: str | None
    min_account_age_days: float
    cap_share: float | None  # no community weighs more than this share of all voters
    submit_until: datetime
    vote_until: datetime
    tally_until: datetime  # tallies sent later are not counted
    participation: Participation
    local_round: int | None = None  # the linked local round, once joined (or organised)
    results_at: datetime | None = None  # when this instance posted the results
    tally_sent: bool = False  # this instance's tally is in the federation outbox
    announced_at: datetime | None = None

    @property
    def label(self) -> str:
        """``"Night drive" (wp-abc…:3)``."""
        return f'"{self.theme}" ({self.id})'

    @property
    def takes_part(self) -> bool:
        """Whether this instance runs the round for its members."""
        return self.participation in (Participation.ORGANISER, Participation.JOINED)


@dataclass(frozen=True)
class Member:
    """An instance's opt-in (or leave) as the room ordered it."""

    round_id: str
    instance: str
    name: str
    joined: bool
    sent_at: datetime  # the homeserver's timestamp of the latest opt-in or leave


@dataclass(frozen=True)
class RoundEntry:
    """An entry of a federated round: a pool track, known everywhere by its CID."""

    round_id: str
    cid: str
    track_id: str
    origin: str  # the participant whose member entered it
    submitter: str  # the member's pseudonym at that participant
    submitter_name: str | None  # None in anonymous rounds
    sent_at: datetime
    title: str | None = None  # shown on the "still arriving" card until the audio is here


@dataclass(frozen=True)
class EntryCount:
    """One entry's share of one tally: how many voters, and the sum of their values."""

    cid: str
    voters: int
    total: int


@dataclass(frozen=True)
class Tally:
    """One participant's signed count of its own voters (no member ids)."""

    round_id: str
    instance: str
    name: str
    voters: int  # distinct voters of this participant in the round
    active_members: int  # members active here before the round (a ceiling for honest voters)
    counts: tuple[EntryCount, ...]
    sent_at: datetime
    status: TallyStatus
    event_id: str = ""
    late_marked: bool = False  # the sender itself said it was late (back from downtime)

    @property
    def flagged(self) -> bool:
        """More voters than members who were active before the round: worth a look."""
        return self.voters > self.active_members


@dataclass(frozen=True)
class CommunityPart:
    """A counted tally in the results: its voters and the weight applied to it."""

    instance: str
    name: str
    voters: int
    weight: float  # 1.0, or less when capped
    flagged: bool
    counts: tuple[EntryCount, ...]


@dataclass(frozen=True)
class FederatedStanding:
    """An entry's place in the combined results, with each community's part."""

    rank: int
    cid: str
    votes: float  # weighted voters
    total: float  # weighted sum of values
    score: float
    by_community: tuple[tuple[str, int, int], ...]  # (community name, voters, total) as tallied


@dataclass(frozen=True)
class FederatedResults:
    """The combined ranking, who counted, and what was not counted and why."""

    standings: tuple[FederatedStanding, ...]
    communities: tuple[CommunityPart, ...]
    not_counted: tuple[tuple[str, str], ...] = field(default=())  # (instance name or id, reason)

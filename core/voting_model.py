"""Voting rounds, entries and ballots: plain records the voting service works on."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from core.model import Sharer, TrackId


class BallotType(enum.StrEnum):
    """Approval: up to K entries get a 👍; score: each entry gets 1-5."""

    APPROVAL = "approval"
    SCORE = "score"


class Phase(enum.StrEnum):
    """Where a round stands; it only moves forward."""

    SUBMISSION = "submission"
    VOTING = "voting"
    CLOSED = "closed"


@dataclass(frozen=True)
class RoundRules:
    """What a moderator chose when starting a round."""

    theme: str
    genre: str | None = None
    entries_per_member: int = 1
    ballot: BallotType = BallotType.APPROVAL
    max_approvals: int = 3  # K: approvals a voter may give in one round
    min_account_age_days: float = 0.0
    required_role: str | None = None
    anonymous: bool = False


@dataclass(frozen=True)
class Round:
    """A voting round with its deadlines (stored, so a restart re-arms them)."""

    id: int
    rules: RoundRules
    created_by: Sharer
    created_at: datetime
    submit_until: datetime
    vote_until: datetime
    phase: Phase
    place: str  # where it was started (channel/room), for replies

    @property
    def label(self) -> str:
        """``#3 "Night drive"``."""
        return f'#{self.id} "{self.rules.theme}"'

    @property
    def hides_entrants(self) -> bool:
        """Whether entrants are shown as "anonymous" now (anonymous rounds, until closed)."""
        return self.rules.anonymous and self.phase is not Phase.CLOSED


@dataclass(frozen=True)
class Entry:
    """A track submitted to a round."""

    round_id: int
    number: int
    track_id: TrackId
    submitter: Sharer
    submitted_at: datetime


@dataclass(frozen=True)
class Voter:
    """Who casts a ballot."""

    platform: str
    user_id: str

    @classmethod
    def of(cls, sharer: Sharer) -> Voter:
        """The voter for a member."""
        return cls(sharer.platform, sharer.user_id)


@dataclass(frozen=True)
class Ballot:
    """One member's value for one entry (approval: 1; score: 1-5)."""

    round_id: int
    entry: int
    voter: Voter
    value: int
    cast_at: datetime


@dataclass(frozen=True)
class Standing:
    """An entry's place in the results."""

    rank: int
    entry: Entry
    votes: int  # ballots received
    total: int  # sum of values
    score: float  # the fair score the ranking uses

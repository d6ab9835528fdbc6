"""Voting rounds, entries and ballots: plain records the voting service works on."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime

from core.model import Sharer, Track, TrackId

ANONYMOUS = "anonymous"  # the sharer's id and name on a card of a hidden entrant


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


def anonymised(track: Track) -> Track:
    """The track as an anonymous entry's card shows it: no sharer, no artist (cards then omit its address)."""
    return replace(track, sharer=Sharer(track.sharer.platform, ANONYMOUS, ANONYMOUS), artist=None)


def is_anonymised(track: Track) -> bool:
    """Whether a card stands for a hidden entrant: it must not print the track's id or pool address.

    The address would let anyone look the track up (``track <cid>``) or match it to the post
    that first shared it, with the sharer's name.
    """
    return track.sharer.user_id == ANONYMOUS and track.sharer.display_name == ANONYMOUS

"""Voting rounds and track votes: the rules, in one place.

A moderator starts a round (theme, windows, ballot type, eligibility). Members submit
their own pool tracks while submissions are open, then vote while voting is open: one
ballot per member per entry, changeable until voting closes, never for their own entry.
Deadlines are stored with the round; ``advance_due`` moves every round whose deadline has
passed (the scheduler calls it at each deadline, and once at start-up, so a deadline
that passed while the instance was down fires at once). Each phase change is recorded
with its event in one transaction; the scheduler and the bots hear of it from the outbox.

Votes on track cards (outside rounds) are approvals that feed the weekly digest.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from core.errors import NotFoundError, PermissionDeniedError, PhaseError, UsageError
from core.events.model import DomainEvent, EventKind
from core.events.ports import EventLog
from core.model import Sharer, Track, TrackId
from core.ports import Clock, TrackRepository, VotingRepository
from core.replies import moment
from core.services.ranking import rank_entries
from core.visibility import is_public
from core.voting_model import (
    Ballot,
    BallotType,
    Entry,
    Phase,
    Round,
    RoundRules,
    Standing,
    Voter,
    anonymised,
)

log = logging.getLogger(__name__)

MAX_WINDOW = timedelta(days=60)
MIN_WINDOW = timedelta(minutes=1)


class VoteOutcome(enum.Enum):
    """What a vote did."""

    RECORDED = "recorded"
    CHANGED = "changed"
    WITHDRAWN = "withdrawn"
    NOTHING_TO_WITHDRAW = "nothing to withdraw"
    ALREADY_VOTED = "already voted"


def _when(when: datetime) -> str:
    return moment(when)  # each platform writes it: relative, and to the second


def deadlines(rnd: Round) -> list[tuple[str, datetime]]:
    """The timers an open round needs: (job id, when)."""
    out: list[tuple[str, datetime]] = []
    if rnd.phase is Phase.SUBMISSION:
        out.append((f"round-{rnd.id}-submission", rnd.submit_until))
    if rnd.phase is not Phase.CLOSED:
        out.append((f"round-{rnd.id}-voting", rnd.vote_until))
    return out


class VotingService:
    """Rounds, submissions, ballots, results; track votes."""

    def __init__(
        self,
        repo: VotingRepository,
        tracks: TrackRepository,
        clock: Clock,
        events: EventLog,
        *,
        min_account_age_days: float = 0.0,
    ) -> None:
        self._repo = repo
        self._tracks = tracks
        self._clock = clock
        self._events = events
        # [voting] min_account_age_days: a floor under every round's own minimum, for voters
        self._min_voter_age_days = max(0.0, min_account_age_days)

    # -- rounds ------------------------------------------------------------------------

    async def start(
        self, rules: RoundRules, by: Sharer, place: str, submit_for: timedelta, vote_for: timedelta
    ) -> Round:
        """Open a round for submissions now; voting follows, then results."""
        if not rules.theme.strip():
            raise UsageError("a round needs a theme")
        for name, window in (("submission", submit_for), ("voting", vote_for)):
            if not MIN_WINDOW <= window <= MAX_WINDOW:
                raise UsageError(f"the {name} window must be between 1 minute and 60 days")
        if rules.entries_per_member < 1 or rules.entries_per_member > 10:
            raise UsageError("entries per member must be between 1 and 10")
        if rules.ballot is BallotType.APPROVAL and not 1 <= rules.max_approvals <= 25:
            raise UsageError("approvals per voter must be between 1 and 25")
        now = self._clock.now()
        async with self._events.transaction():
            created = await self._repo.create_round(
                rules, by, now, now + submit_for, now + submit_for + vote_for, place
            )
            await self._events.record(DomainEvent(EventKind.ROUND_STARTED, round_id=created.id), now)
        return created

    async def get(self, ref: str | int) -> Round:
        """A round by number (``3`` or ``#3``); NotFoundError when there is none."""
        text = str(ref).strip().lstrip("#")
        if not text.isdigit():
            raise UsageError(f"'{ref}' is not a round number")
        found = await self._repo.get_round(int(text))
        if found is None:
            raise NotFoundError(f"there is no round #{text}")
        return found

    async def open_rounds(self) -> Sequence[Round]:
        """Rounds not closed yet."""
        return await self._repo.open_rounds()

    async def recent_rounds(self, limit: int = 10) -> Sequence[Round]:
        """Newest rounds first."""
        return await self._repo.recent_rounds(limit)

    async def advance_due(self) -> list[Round]:
        """Move every round whose deadline passed; announce each change. Idempotent."""
        now = self._clock.now()
        moved: list[Round] = []
        for rnd in await self._repo.open_rounds():
            if rnd.phase is Phase.SUBMISSION and now >= rnd.submit_until:
                rnd = await self._to_voting(rnd) or rnd
                moved.append(rnd)
            if rnd.phase is Phase.VOTING and now >= rnd.vote_until:
                closed = await self._to_closed(rnd)
                if closed:
                    moved.append(closed)
        return moved

    async def close_phase(self, ref: str, by: Sharer) -> Round:
        """``round close``: end the current phase now (moderators)."""
        rnd = await self.get(ref)
        now = self._clock.now()
        if rnd.phase is Phase.SUBMISSION:
            await self._repo.set_deadlines(rnd.id, now, max(rnd.vote_until, now + (rnd.vote_until - rnd.submit_until)))
            rnd = await self.get(rnd.id)
            return await self._to_voting(rnd) or rnd
        if rnd.phase is Phase.VOTING:
            await self._repo.set_deadlines(rnd.id, rnd.submit_until, now)
            return await self._to_closed(await self.get(rnd.id)) or rnd
        raise PhaseError(f"round {rnd.label} is already closed")

    async def _to_voting(self, rnd: Round) -> Round | None:
        entries = await self._repo.entries(rnd.id)
        phase, kind = (
            (Phase.VOTING, EventKind.ROUND_VOTING_OPENED) if entries else (Phase.CLOSED, EventKind.ROUND_CLOSED)
        )
        async with self._events.transaction():
            if not await self._repo.set_phase(rnd.id, phase, Phase.SUBMISSION):
                return None
            await self._events.record(DomainEvent(kind, round_id=rnd.id), self._clock.now())
        return await self.get(rnd.id)

    async def entries(self, rnd: Round) -> Sequence[Entry]:
        """A round's entries, in order."""
        return await self._repo.entries(rnd.id)

    async def first_entries(self, rnd: Round, limit: int) -> tuple[Sequence[Entry], int]:
        """A round's first ``limit`` entries, in order, and how many it has (without reading them all)."""
        return await self._repo.first_entries(rnd.id, limit)

    async def _to_closed(self, rnd: Round) -> Round | None:
        async with self._events.transaction():
            if not await self._repo.set_phase(rnd.id, Phase.CLOSED, Phase.VOTING):
                return None
            await self._events.record(DomainEvent(EventKind.ROUND_CLOSED, round_id=rnd.id), self._clock.now())
        return await self.get(rnd.id)

    # -- submissions -------------------------------------------------------------------

    async def submit(
        self, ref: str, track_ref: str, by: Sharer, account_age_days: float | None = None, roles: Sequence[str] = ()
    ) -> Entry:
        """Enter a pool track the member shared into a round."""
        rnd = await self.get(ref)
        now = self._clock.now()
        if rnd.phase is not Phase.SUBMISSION or now >= rnd.submit_until:
            raise PhaseError(f"submissions for round {rnd.label} closed at {_when(rnd.submit_until)}")
        self._check_eligible(rnd, account_age_days, roles)
        track = await self._tracks.resolve(track_ref)
        if track is None or not is_public(track):
            raise NotFoundError(
                f"no track '{track_ref}' in the pool that can be entered; share it first"
                if track is None
                else "this track is not accepted (yet): it cannot be entered"
            )
        if Voter.of(track.sharer) != Voter.of(by):
            # Only the member whose share added the track: a re-share of someone else's
            # file is a sighting, not authorship (it would let anyone enter others' work).
            raise PermissionDeniedError("you can only submit tracks you shared yourself (first)")
        if rnd.rules.genre and track.genre and track.genre != rnd.rules.genre:
            raise UsageError(f"round {rnd.label} is for {rnd.rules.genre}; this track is {track.genre}")
        entries = await self._repo.entries(rnd.id)
        if any(e.track_id == track.id for e in entries):
            raise UsageError("this track is already entered in the round")
        mine = [e for e in entries if Voter.of(e.submitter) == Voter.of(by)]
        if len(mine) >= rnd.rules.entries_per_member:
            raise UsageError(
                f"you already have {len(mine)} entr{'y' if len(mine) == 1 else 'ies'} "
                f"in round {rnd.label} (the limit is {rnd.rules.entries_per_member})"
            )
        return await self._repo.add_entry(rnd.id, track.id, by, now)

    async def _shared_track(self, track_id: TrackId, voter: Voter) -> bool:
        # A member who shared the entry's audio from another platform (or account) is its author too.
        return any(Voter.of(s.sharer) == voter for s in await self._tracks.shares(track_id))

    @staticmethod
    def _check_eligible(
        rnd: Round, account_age_days: float | None, roles: Sequence[str], floor_days: float = 0.0
    ) -> None:
        rules = rnd.rules
        min_days = max(rules.min_account_age_days, floor_days)
        if min_days and (account_age_days is None or account_age_days < min_days):
            known = "" if account_age_days is not None else " (this platform did not tell your account's age)"
            raise PermissionDeniedError(f"round {rnd.label} is open to members of at least {min_days:g} days{known}")
        if rules.required_role and rules.required_role not in roles:
            raise PermissionDeniedError(f"round {rnd.label} is open to the role {rules.required_role} only")

    async def hidden_entrants(self) -> dict[TrackId, Sharer]:
        """Tracks entered in an anonymous round not closed yet, with who entered them."""
        hidden: dict[TrackId, Sharer] = {}
        for rnd in await self._repo.open_rounds():
            if rnd.hides_entrants:
                hidden.update((e.track_id, e.submitter) for e in await self._repo.entries(rnd.id))
        return hidden

    async def mask_entrants(self, tracks: Sequence[Track], platform: str, user_id: str) -> list[Track]:
        """The tracks as ``platform``/``user_id`` may see them: anonymous entries without their sharer.

        The entrant still sees their own; everyone else (moderators too: they vote) sees the
        card an anonymous entry shows until the results.
        """
        hidden = await self.hidden_entrants() if tracks else {}
        return [
            anonymised(t) if t.id in hidden and Voter.of(hidden[t.id]) != Voter(platform, user_id) else t
            for t in tracks
        ]

    # -- ballots -----------------------------------------------------------------------

    async def vote(
        self,
        ref: str,
        entry_number: int,
        by: Sharer,
        value: int,
        *,
        toggle: bool = False,
        account_age_days: float | None = None,
        roles: Sequence[str] = (),
        cast_at: datetime | None = None,
    ) -> VoteOutcome:
        """Cast, change or (value 0) withdraw a ballot; returns what happened in words.
        ``cast_at``: when the member voted, if the platform says (a reaction read after a
        restart counts at its own time, never later than now)."""
        rnd = await self.get(ref)
        now = self._clock.now() if cast_at is None else min(cast_at, self._clock.now())
        if rnd.phase is not Phase.VOTING or now >= rnd.vote_until:
            if rnd.phase is Phase.SUBMISSION and now < rnd.submit_until:
                raise PhaseError(f"voting in round {rnd.label} opens at {_when(rnd.submit_until)}")
            raise PhaseError(f"voting in round {rnd.label} closed at {_when(rnd.vote_until)}")
        entry = await self._repo.entry(rnd.id, entry_number)  # one row, not the whole round
        if entry is None:
            raise NotFoundError(f"round {rnd.label} has no entry {entry_number}")
        voter = Voter.of(by)
        if Voter.of(entry.submitter) == voter or await self._shared_track(entry.track_id, voter):
            raise PermissionDeniedError("you cannot vote for your own entry")
        self._check_eligible(rnd, account_age_days, roles, self._min_voter_age_days)
        mine = await self._repo.ballots_of(rnd.id, voter)
        if value == 0 or (toggle and mine.get(entry_number) == value):
            previous = await self._repo.delete_ballot(rnd.id, entry_number, voter)
            return VoteOutcome.WITHDRAWN if previous is not None else VoteOutcome.NOTHING_TO_WITHDRAW
        if rnd.rules.ballot is BallotType.APPROVAL:
            if value != 1:
                raise UsageError("this round uses approval votes: vote 1 (or 0 to withdraw)")
            others = [e for e in mine if e != entry_number]
            if entry_number not in mine and len(others) >= rnd.rules.max_approvals:
                raise UsageError(
                    f"you have used all {rnd.rules.max_approvals} approvals in round {rnd.label}; withdraw one first"
                )
        elif not 1 <= value <= 5:
            raise UsageError("scores go from 1 to 5")
        previous = await self._repo.set_ballot(Ballot(rnd.id, entry_number, voter, value, now))
        if previous is None:
            return VoteOutcome.RECORDED
        return VoteOutcome.CHANGED if previous != value else VoteOutcome.RECORDED

    async def vote_track(self, track_ref: str, by: Sharer, value: int, *, toggle: bool = False) -> VoteOutcome:
        """Approve (1) or withdraw (0) a track outside rounds; feeds the digest."""
        track = await self._tracks.resolve(track_ref)
        if track is None or not is_public(track):
            raise NotFoundError("that track is not in the pool (or not accepted)")
        voter = Voter.of(by)
        if Voter.of(track.sharer) == voter:
            raise PermissionDeniedError("you cannot vote for your own track")
        if value not in (0, 1):
            raise UsageError("track votes are approvals: 1 to vote, 0 to withdraw")
        existing = await self._repo.get_track_vote(track.id, voter)
        if value == 0 or (toggle and existing is not None):
            if existing is None:
                return VoteOutcome.NOTHING_TO_WITHDRAW
            await self._repo.delete_track_vote(track.id, voter)
            return VoteOutcome.WITHDRAWN
        if existing is not None:
            return VoteOutcome.ALREADY_VOTED
        await self._repo.set_track_vote(track.id, voter, 1, self._clock.now())
        return VoteOutcome.RECORDED

    # -- results -----------------------------------------------------------------------

    async def standings(self, rnd: Round) -> list[Standing]:
        """The current ranking."""
        return rank_entries(rnd.rules.ballot, await self._repo.entries(rnd.id), await self._repo.ballots(rnd.id))

    async def closed(self, ref: str, *, moderator: bool = False) -> Round:
        """A round whose results may be shown (moderators may peek before it closes)."""
        rnd = await self.get(ref)
        if rnd.phase is not Phase.CLOSED and not moderator:
            raise PhaseError(f"results of round {rnd.label} come when voting closes at {_when(rnd.vote_until)}")
        return rnd

    async def ballots(self, rnd: Round) -> Sequence[Ballot]:
        """Every ballot of a round."""
        return await self._repo.ballots(rnd.id)

    async def voter_count(self, rnd: Round) -> int:
        """How many members voted in a round (without reading the ballots)."""
        return await self._repo.voter_count(rnd.id)

    async def track_votes(self, track_ids: Sequence[TrackId]) -> dict[TrackId, int]:
        """Votes per track."""
        return await self._repo.track_votes(track_ids)

    async def top_tracks(self, since: datetime, limit: int) -> Sequence[tuple[TrackId, int, int]]:
        """Most voted tracks since a time."""
        return await self._repo.track_vote_totals(since, limit)

"""Curator reputation and boosts: who curates well, and the tracks they flag for wider reach.

Reputation is computed when asked, from the curation index (votes and shares, at most
30 s old), the member's rejected and taken-down tracks, and closed rounds' results
(``core.reputation_model`` has the rules and the vote-ring resistance). It is shown to
the member (moderators: anyone's); the leaderboard exists only when the community turns
it on. A member at or above ``min_reputation`` (moderators always) may ``boost`` a
public track of someone else's; the boost and its event are one transaction, and the
event lets the federation publisher re-check its publish gate.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from core.curation_ports import CurationStore, Member
from core.errors import DuplicateError, NotFoundError, PermissionDeniedError
from core.events.model import DomainEvent, EventKind
from core.events.ports import EventLog
from core.model import Sharer, Track, TrackId
from core.ports import Clock, TrackRepository, VotingRepository
from core.reputation_model import Placing, Reputation, effective_votes, reputation
from core.services.curation_feed import CurationFeed
from core.services.ranking import rank_entries
from core.visibility import is_public
from core.voting_model import Phase, Standing

log = logging.getLogger(__name__)

ROUNDS_CONSIDERED = 100
LEADERBOARD_CANDIDATES = 100


@dataclass(frozen=True)
class BoostOutcome:
    """A boost's result: the track, its boost count now, and whether anything changed (a new
    boost; for a withdrawal, an existing boost removed)."""

    track: Track
    boosts: int
    added: bool  # something changed


@dataclass(frozen=True)
class CurationFacts:
    """What the publish gate weighs of a track."""

    boosts: int
    best_place: int | None  # best rank in a closed round, None when never placed
    fair_score: float  # effective (ring-resistant) votes


def member_of(sharer: Sharer) -> Member:
    """The (platform, user id) key curation records a member by."""
    return (sharer.platform, sharer.user_id)


class ReputationService:
    """Reputation of members, boosts of tracks, and the facts the publish gate weighs."""

    def __init__(
        self,
        feed: CurationFeed,
        store: CurationStore,
        tracks: TrackRepository,
        events: EventLog,
        clock: Clock,
        voting: VotingRepository | None = None,
        *,
        min_reputation: float = 10.0,
        public_leaderboard: bool = False,
    ) -> None:
        self._feed = feed
        self._store = store
        self._tracks = tracks
        self._events = events
        self._clock = clock
        self._voting = voting
        self.min_reputation = min_reputation
        self.public_leaderboard = public_leaderboard
        self._standings: dict[int, list[Standing]] = {}  # closed rounds never change

    async def of(self, who: Sharer) -> Reputation:
        """A member's reputation with the reasons."""
        index = await self._feed.index()
        key = member_of(who)
        placings = await self._placings(key)
        penalties = await self._store.penalties(key)
        return reputation(index, index.find_member(key), self._clock.now(), penalties, placings)

    async def leaderboard(self, limit: int = 10) -> list[tuple[Member, float]]:
        """The best curators, when the community turned the leaderboard on."""
        if not self.public_leaderboard:
            raise PermissionDeniedError("this community keeps reputation private (no leaderboard)")
        index = await self._feed.index()
        now = self._clock.now()
        # reputation costs milliseconds a member: score fully only the members whose tracks
        # received the most votes (a cheap bound), not every member of a large community
        received = heapq.nlargest(
            LEADERBOARD_CANDIDATES,
            range(index.member_count),
            key=lambda ix: sum(index.like_count_of(t) for t in index.shared(ix)),
        )
        scored = []
        for ix in received:
            key = index.member_of(ix)
            rep = reputation(index, ix, now, await self._store.penalties(key), await self._placings(key))
            if rep.score > 0:
                scored.append((key, rep.score))
        scored.sort(key=lambda item: -item[1])
        return scored[:limit]

    async def _placings(self, key: Member) -> list[Placing]:
        if self._voting is None:
            return []
        out = []
        for rnd in await self._voting.recent_rounds(ROUNDS_CONSIDERED):
            if rnd.phase is not Phase.CLOSED:
                continue
            standings = await self._round_standings(rnd.id)
            for standing in standings:
                submitter = standing.entry.submitter
                if (submitter.platform, submitter.user_id) == key:
                    out.append(Placing(rnd.label, standing.rank, len(standings), rnd.vote_until))
        return out

    async def _round_standings(self, round_id: int) -> list[Standing]:
        if round_id not in self._standings:
            assert self._voting is not None
            rnd = await self._voting.get_round(round_id)
            assert rnd is not None
            entries = await self._voting.entries(round_id)
            self._standings[round_id] = rank_entries(rnd.rules.ballot, entries, await self._voting.ballots(round_id))
        return self._standings[round_id]

    # -- boosts ------------------------------------------------------------------------

    async def boost(self, ref: str, by: Sharer, *, moderator: bool = False, withdraw: bool = False) -> BoostOutcome:
        """Flag a public track for wider distribution (or withdraw the flag)."""
        track = await self._tracks.resolve(ref)
        if track is None or not is_public(track):
            raise NotFoundError("that track is not in the pool (or not accepted)")
        key = member_of(by)
        if withdraw:  # the event lets the federation send the lower count of a published track
            async with self._events.transaction():
                removed = await self._store.remove_boost(track.id, key)
                if removed:
                    await self._events.record(
                        DomainEvent(EventKind.TRACK_BOOSTED, track_id=track.id, reason="withdrawn"), self._clock.now()
                    )
            counts = await self._store.boost_counts([track.id])
            return BoostOutcome(track, counts.get(track.id, 0), removed)
        if member_of(track.sharer) == key:
            raise PermissionDeniedError("you cannot boost your own track")
        if not moderator:
            mine = await self.of(by)
            if mine.score < self.min_reputation:
                raise PermissionDeniedError(
                    f"boosting needs a reputation of {self.min_reputation:g}; yours is {mine.score:g}"
                    " (see `reputation`)"
                )
        async with self._events.transaction():
            added = await self._store.add_boost(track.id, key, self._clock.now())
            if added:
                await self._events.record(DomainEvent(EventKind.TRACK_BOOSTED, track_id=track.id), self._clock.now())
        if not added:
            raise DuplicateError("you have boosted that track already")
        counts = await self._store.boost_counts([track.id])
        return BoostOutcome(track, counts.get(track.id, 0), True)

    async def round_tracks(self, round_id: int) -> list[TrackId]:
        """The tracks entered in a round (the publish gate re-checks them when it closes)."""
        if self._voting is None:
            return []
        return [entry.track_id for entry in await self._voting.entries(round_id)]

    async def boost_counts(self, track_ids: Sequence[TrackId]) -> dict[TrackId, int]:
        """Local boosts per track."""
        return await self._store.boost_counts(track_ids)

    async def facts(self, track: Track) -> CurationFacts:
        """Boosts, best round place and fair score of a track (for the publish gate)."""
        boosts = (await self._store.boost_counts([track.id])).get(track.id, 0)
        index = await self._feed.index(fresh=True)
        ix = index.find_track(track.id)
        fair = effective_votes(index, ix) if ix is not None else 0.0
        best: int | None = None
        if self._voting is not None:
            for rnd in await self._voting.recent_rounds(ROUNDS_CONSIDERED):
                if rnd.phase is not Phase.CLOSED:
                    continue
                for standing in await self._round_standings(rnd.id):
                    if standing.entry.track_id == track.id and (best is None or standing.rank < best):
                        best = standing.rank
        return CurationFacts(boosts, best, fair)

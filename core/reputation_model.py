"""Curator reputation: what the community confirmed a member did well, with the reasons.

Four sources, each decayed by age (half-life ``HALF_LIFE_DAYS``: a vote half a year old
counts about a third):

* **shared tracks voted up** — per track, the *effective* votes (below) turned into a fair
  score like ``core.services.ranking``'s Bayesian average: ``POINTS_PER_TRACK · e/(e+3)``,
  so one track needs several independent voters before it counts fully and one viral
  track cannot outweigh a body of work;
* **found it first** — the member was among the first ``EARLY_VOTERS`` voters of a track
  that went on to ``RANKS_WELL`` effective votes;
* **round results** — 1st, 2nd, 3rd place in a closed round of at least three entries;
* **minus** each track of theirs a moderator rejected or took down.

Vote-ring resistance (every vote's weight, not a filter that a ring can learn to dodge):
a voter's votes for one sharer count ``1/√n`` each (``n``: how many of that sharer's
tracks they voted for), so a voter gives a sharer at most ``√n``, not ``n``; and votes
between two members who vote for each other count ``1/(1+m)``, ``m`` the smaller of
the two directions' counts. Five members upvoting each other's twenty tracks give each
other almost nothing; thirty members who each liked one track give its sharer nearly
thirty. Measured in tests/unit/test_reputation.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from core.curation_index import CurationIndex
from core.curation_ports import Penalty

HALF_LIFE_DAYS = 120.0
POINTS_PER_TRACK = 10.0
PRIOR_VOTES = 3.0  # effective votes a track's fair score is shrunk by (ranking.PRIOR_WEIGHT)
EARLY_VOTERS = 3
RANKS_WELL = 5.0  # effective votes
POINTS_EARLY = 2.0
PLACE_POINTS = {1: 10.0, 2: 6.0, 3: 3.0}
TAKEDOWN_POINTS = 15.0
REJECTED_POINTS = 5.0


@dataclass(frozen=True)
class Placing:
    """A member's entry placed in a closed round."""

    round_label: str
    rank: int
    entries: int
    at: datetime


@dataclass(frozen=True)
class Reason:
    """One line of why: points and the words for them."""

    points: float
    text: str


@dataclass(frozen=True)
class Reputation:
    """A member's reputation and its reasons, largest first."""

    score: float
    reasons: tuple[Reason, ...] = field(default_factory=tuple)


def decay(at_epoch: float, now: datetime, half_life_days: float = HALF_LIFE_DAYS) -> float:
    """``0.5 ** (age / half-life)``; the future counts fully."""
    age_days = max(0.0, now.timestamp() - at_epoch) / 86400.0
    return float(0.5 ** (age_days / half_life_days))


def vote_weight(index: CurationIndex, voter: int, sharer: int, *, mutual: bool = True) -> float:
    """How much one vote of ``voter`` for a track of ``sharer`` counts (ring resistance).

    ``mutual`` False leaves out the discount for members who vote for each other."""
    given = index.pair(voter, sharer) or 1
    returned = index.pair(sharer, voter) if mutual else 0
    return (1.0 / math.sqrt(max(1, given))) / (1.0 + min(given, returned))


def effective_votes(index: CurationIndex, track: int, now: datetime | None = None, *, mutual: bool = True) -> float:
    """The track's votes, each weighted by ``vote_weight`` (and decayed when ``now`` is given)."""
    sharer = index.sharer(track)
    total = 0.0
    for voter, at in zip(index.likers(track), index.like_times(track), strict=True):
        if voter == sharer:
            continue
        w = vote_weight(index, voter, sharer, mutual=mutual) if sharer != -1 else 1.0
        total += w * (decay(at, now) if now is not None else 1.0)
    return total


def reputation(
    index: CurationIndex,
    member: int | None,
    now: datetime,
    penalties: Sequence[Penalty] = (),
    placings: Sequence[Placing] = (),
) -> Reputation:
    """A member's reputation with its reasons (``member`` None: nothing in the index yet)."""
    reasons: list[Reason] = []
    if member is not None:
        reasons.extend(_from_shares(index, member, now))
        reasons.extend(_from_early_votes(index, member, now))
    for placing in placings:
        points = PLACE_POINTS.get(placing.rank, 0.0)
        if points and placing.entries >= 3:
            weighted = points * decay(placing.at.timestamp(), now)
            reasons.append(Reason(weighted, f"placed {_ordinal(placing.rank)} in round {placing.round_label}"))
    for penalty in penalties:
        base = TAKEDOWN_POINTS if penalty.taken_down else REJECTED_POINTS
        what = "taken down" if penalty.taken_down else "rejected"
        reasons.append(Reason(-base * decay(penalty.at.timestamp(), now), f"“{penalty.title}” was {what}"))
    reasons = [r for r in reasons if abs(r.points) >= 0.05]
    reasons.sort(key=lambda r: -abs(r.points))
    return Reputation(round(sum(r.points for r in reasons), 1), tuple(reasons))


def _from_shares(index: CurationIndex, member: int, now: datetime) -> list[Reason]:
    tracks = index.shared(member)
    points = 0.0
    raw = 0
    voted = 0
    effective_total = 0.0
    one_way_total = 0.0  # the same without the discount for voting each other: what the circle cost
    for t in tracks:
        e = effective_votes(index, t, now)
        raw += index.like_count_of(t) - (1 if index.liked_at(t, member) is not None else 0)
        voted += 1 if e > 0 else 0
        effective_total += e
        one_way_total += effective_votes(index, t, now, mutual=False)
        points += POINTS_PER_TRACK * e / (e + PRIOR_VOTES)
    if not raw:
        return []
    text = f"{raw} votes on {voted} of your {len(tracks)} tracks (worth {effective_total:.1f} independent votes)"
    if effective_total < 0.5 * one_way_total:
        text += "; votes from a small circle that votes for each other count less"
    return [Reason(points, text)]


def _from_early_votes(index: CurationIndex, member: int, now: datetime) -> list[Reason]:
    found = 0
    points = 0.0
    for t in index.liked(member):
        if index.sharer(t) == member or index.like_count_of(t) < RANKS_WELL:
            continue
        earliest = sorted(zip(index.like_times(t), index.likers(t), strict=True), key=lambda p: p[0])[:EARLY_VOTERS]
        mine = next((at for at, m in earliest if m == member), None)
        if mine is None:
            continue
        if effective_votes(index, t) >= RANKS_WELL:
            found += 1
            points += POINTS_EARLY * decay(mine, now)
    return (
        [Reason(points, f"found {found} track{'s' if found != 1 else ''} early that the community then liked")]
        if found
        else []
    )


def _ordinal(rank: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(rank, f"{rank}th")

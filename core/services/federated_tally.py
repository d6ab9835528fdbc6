"""Combining the participants' tallies of a federated round into one ranking.

Pure: the same tallies give the same results on every instance. Which tallies count is
decided here too, from what every instance sees the same way (the homeserver's
timestamps, the opt-ins, the signatures checked at intake): a tally sent after the tally
deadline, a forged one, or one from an instance that did not opt in is listed with its
reason and not counted. The ranking is the local rounds' fair ranking
(``core.services.ranking``) applied to the summed counts.

A cap keeps one community from deciding alone: when a community's voters are more than
``cap_share`` of all counted voters, its counts are scaled down until they are exactly
that share (the results show the weight applied).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from core.federated_round_model import (
    CommunityPart,
    EntryCount,
    FederatedResults,
    FederatedStanding,
    Tally,
    TallyStatus,
)
from core.services.ranking import SCALE_MIDDLE, bayesian_average, wilson_lower_bound
from core.voting_model import BallotType

_EPSILON = 1e-9


def tally_status(tally: Tally, participants: Collection[str], tally_until: datetime) -> TallyStatus:
    """Whether a verified tally counts: sent in time by a participant."""
    if tally.status is TallyStatus.FORGED:
        return TallyStatus.FORGED
    if tally.instance not in participants:
        return TallyStatus.NOT_OPTED_IN
    if tally.sent_at > tally_until:
        return TallyStatus.LATE
    return TallyStatus.COUNTED


def cap_weights(voters: dict[str, int], cap_share: float | None) -> dict[str, float]:
    """Weights (≤ 1) that keep every community at most ``cap_share`` of all weighted voters."""
    weights = {name: 1.0 for name in voters}
    if cap_share is None or not 0 < cap_share < 1 or len(voters) * cap_share < 1:
        return weights  # no cap, or one that no split could meet (e.g. 40 % with two communities)
    for _ in range(len(voters)):
        total = sum(weights[i] * voters[i] for i in voters)
        over = sorted(i for i in voters if weights[i] * voters[i] > cap_share * total + _EPSILON)
        if not over:
            break
        rest = sum(weights[i] * voters[i] for i in voters if i not in over)
        # Each capped community ends at exactly cap·T where T = rest + k·cap·T.
        target = cap_share * rest / (1 - len(over) * cap_share)
        for i in over:
            weights[i] = target / voters[i]
    return weights


def combine(
    ballot: BallotType,
    entry_cids: Sequence[str],
    tallies: Sequence[Tally],
    participants: Mapping[str, str],
    tally_until: datetime,
    cap_share: float | None,
) -> FederatedResults:
    """The ranking of every entry from the tallies that count, with what did not count.

    ``participants`` maps each participant's instance id to its name."""
    counted: dict[str, Tally] = {}
    not_counted: list[tuple[str, str]] = []
    for tally in sorted(tallies, key=lambda t: (t.sent_at, t.instance, t.event_id)):
        status = tally_status(tally, participants, tally_until)
        if status is TallyStatus.COUNTED and tally.instance in counted:
            status = TallyStatus.DUPLICATE
        if status is TallyStatus.COUNTED:
            counted[tally.instance] = tally
        else:
            not_counted.append((tally.name or tally.instance, status.value))
    for instance in sorted(set(participants) - set(counted)):
        if not any(t.instance == instance and t.status is not TallyStatus.FORGED for t in tallies):
            not_counted.append((participants[instance] or instance, "no tally"))
    order = sorted(counted)
    voters = {i: counted[i].voters for i in order}
    weights = cap_weights(voters, cap_share)
    all_voters = sum(weights[i] * voters[i] for i in order)
    known = set(entry_cids)
    per_cid: dict[str, dict[str, EntryCount]] = {cid: {} for cid in entry_cids}
    for i in order:
        for count in counted[i].counts:
            if count.cid in known:
                per_cid[count.cid][i] = count
    scored: list[tuple[float, float, int, FederatedStanding]] = []
    for index, cid in enumerate(entry_cids):
        parts = per_cid[cid]
        votes = sum(weights[i] * parts[i].voters for i in order if i in parts)
        total = sum(weights[i] * parts[i].total for i in order if i in parts)
        if ballot is BallotType.APPROVAL:
            score = wilson_lower_bound(votes, all_voters)
        else:
            score = bayesian_average(total, votes, SCALE_MIDDLE)
        breakdown = tuple((counted[i].name or i, parts[i].voters, parts[i].total) for i in order if i in parts)
        scored.append(
            (round(score, 9), round(total, 9), index, FederatedStanding(0, cid, votes, total, score, breakdown))
        )
    scored.sort(key=lambda item: (-item[0], -item[1], item[2]))
    standings: list[FederatedStanding] = []
    previous: tuple[float, float] | None = None
    rank = 0
    for position, (score, total, _index, standing) in enumerate(scored, start=1):
        if (score, total) != previous:
            rank, previous = position, (score, total)
        standings.append(
            FederatedStanding(rank, standing.cid, standing.votes, standing.total, standing.score, standing.by_community)
        )
    communities = tuple(
        CommunityPart(i, counted[i].name or i, voters[i], weights[i], counted[i].flagged, counted[i].counts)
        for i in order
    )
    return FederatedResults(tuple(standings), communities, tuple(not_counted))

"""Rankings that are fair to entries with few votes.

Score ballots (1-5): a Bayesian average that pulls an entry towards the middle of the scale
(3) in proportion to how few ballots it has, so one 5 does not beat nine ballots averaging
4.9. (The middle, not the round's mean: in a round of enthusiastic voters the mean is
high and would barely hold back a lone 5.)
Approval ballots: the lower bound of the Wilson score interval (95 %) of the share of the
round's voters who approved the entry, so 2 of 2 does not beat 40 of 50.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.voting_model import Ballot, BallotType, Entry, Standing

PRIOR_WEIGHT = 3.0  # ballots' worth of the round mean added to every score entry
Z = 1.96
SCALE_MIDDLE = 3.0


def wilson_lower_bound(positive: float, total: float, z: float = Z) -> float:
    """Lower bound of the Wilson interval of ``positive/total``; 0 when ``total`` is 0."""
    if total <= 0:
        return 0.0
    share = positive / total
    denominator = 1 + z * z / total
    centre = share + z * z / (2 * total)
    spread = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    return max(0.0, (centre - spread) / denominator)


def bayesian_average(total: float, count: float, prior_mean: float, prior_weight: float = PRIOR_WEIGHT) -> float:
    """(prior_weight·prior_mean + total) / (prior_weight + count)."""
    return (prior_weight * prior_mean + total) / (prior_weight + count)


def rank_entries(ballot_type: BallotType, entries: Sequence[Entry], ballots: Sequence[Ballot]) -> list[Standing]:
    """Standings best first; ties share a rank and keep submission order."""
    per_entry: dict[int, list[int]] = {e.number: [] for e in entries}
    for ballot in ballots:
        if ballot.entry in per_entry:
            per_entry[ballot.entry].append(ballot.value)
    voters = len({b.voter for b in ballots})
    prior = SCALE_MIDDLE
    scored: list[tuple[float, Entry, int, int]] = []
    for entry in entries:
        values = per_entry[entry.number]
        if ballot_type is BallotType.APPROVAL:
            score = wilson_lower_bound(len(values), voters)
        else:
            score = bayesian_average(sum(values), len(values), prior)
        scored.append((score, entry, len(values), sum(values)))
    scored.sort(key=lambda item: (-round(item[0], 9), -item[3], item[1].number))
    standings: list[Standing] = []
    previous: tuple[float, int] | None = None
    rank = 0
    for position, (score, entry, votes, total) in enumerate(scored, start=1):
        key = (round(score, 9), total)
        if key != previous:
            rank = position
            previous = key
        standings.append(Standing(rank=rank, entry=entry, votes=votes, total=total, score=score))
    return standings

"""Fair rankings: few votes do not beat many, ties are deterministic."""

from __future__ import annotations

from datetime import UTC, datetime

from core.services.ranking import bayesian_average, rank_entries, wilson_lower_bound
from core.voting_model import Ballot, BallotType, Entry, Voter
from tests.support.factories import member

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _entries(count: int) -> list[Entry]:
    return [Entry(1, n, f"t{n}", member(f"s{n}"), AT) for n in range(1, count + 1)]


def _ballots(votes: dict[int, list[int]]) -> list[Ballot]:
    return [
        Ballot(1, entry, Voter("matrix", f"@v{entry}-{i}:hs"), value, AT)
        for entry, values in votes.items()
        for i, value in enumerate(values)
    ]


def test_wilson_prefers_many_approvals() -> None:
    assert wilson_lower_bound(40, 50) > wilson_lower_bound(2, 2)
    assert wilson_lower_bound(0, 0) == 0.0


def test_bayesian_pulls_few_votes_to_the_middle() -> None:
    assert bayesian_average(5, 1, 3.0) < bayesian_average(45, 10, 3.0)


def test_ties_share_a_rank_in_submission_order() -> None:
    standings = rank_entries(BallotType.APPROVAL, _entries(3), _ballots({1: [1], 2: [1], 3: [1, 1]}))
    assert [(s.rank, s.entry.number) for s in standings] == [(1, 3), (2, 1), (2, 2)]
    again = rank_entries(BallotType.APPROVAL, _entries(3), list(reversed(_ballots({1: [1], 2: [1], 3: [1, 1]}))))
    assert [s.entry.number for s in again] == [3, 1, 2]


def test_entries_without_votes_rank_last() -> None:
    standings = rank_entries(BallotType.SCORE, _entries(2), _ballots({2: [3]}))
    assert [s.entry.number for s in standings] == [2, 1] and standings[1].votes == 0

"""Combining federated tallies: the local rounds' fair ranking over summed counts, and the
rules on what counts (late, forged, not opted in), the cap and the flag."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from core.federated_round_model import EntryCount, Tally, TallyStatus
from core.services.federated_tally import cap_weights, combine
from core.services.ranking import rank_entries
from core.voting_model import Ballot, BallotType, Entry, Voter
from tests.support.factories import member

DEADLINE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CIDS = ["bafkreia", "bafkreib", "bafkreic", "bafkreid"]
PARTICIPANTS = {"a": "A", "b": "B", "c": "C"}


def _tally(instance: str, voters: int, counts: dict[str, tuple[int, int]], **kw: object) -> Tally:
    fields: dict[str, object] = {
        "round_id": "wp-org:1",
        "instance": instance,
        "name": instance.upper(),
        "voters": voters,
        "active_members": 1000,
        "counts": tuple(EntryCount(cid, v, t) for cid, (v, t) in sorted(counts.items())),
        "sent_at": DEADLINE - timedelta(minutes=1),
        "status": TallyStatus.COUNTED,
        "event_id": f"${instance}",
    }
    fields.update(kw)
    return Tally(**fields)  # type: ignore[arg-type]


def _ballots_by_instance(ballot: BallotType, seed: int) -> dict[str, list[tuple[str, str, int]]]:
    """(voter, cid, value) per instance: each voter approves up to 3 entries or scores some."""
    rng = random.Random(seed)
    out: dict[str, list[tuple[str, str, int]]] = {}
    for instance, count in (("a", 7), ("b", 4), ("c", 11)):
        rows: list[tuple[str, str, int]] = []
        for voter in range(count):
            for cid in rng.sample(CIDS, rng.randint(1, 3)):
                rows.append((f"{instance}{voter}", cid, 1 if ballot is BallotType.APPROVAL else rng.randint(1, 5)))
        out[instance] = rows
    return out


def _as_tally(instance: str, rows: list[tuple[str, str, int]]) -> Tally:
    counts: dict[str, tuple[int, int]] = {}
    for _voter, cid, value in rows:
        voters, total = counts.get(cid, (0, 0))
        counts[cid] = (voters + 1, total + value)
    return _tally(instance, len({voter for voter, _, _ in rows}), counts)


def test_summed_tallies_rank_like_one_local_round_with_every_ballot() -> None:
    for ballot in (BallotType.APPROVAL, BallotType.SCORE):
        for seed in range(20):
            per_instance = _ballots_by_instance(ballot, seed)
            tallies = [_as_tally(i, rows) for i, rows in per_instance.items()]
            results = combine(ballot, CIDS, tallies, PARTICIPANTS, DEADLINE, None)
            entries = [Entry(1, n, cid, member(f"s{n}"), DEADLINE) for n, cid in enumerate(CIDS, start=1)]  # type: ignore[arg-type]
            number = {cid: n for n, cid in enumerate(CIDS, start=1)}
            ballots = [
                Ballot(1, number[cid], Voter("matrix", voter), value, DEADLINE)
                for rows in per_instance.values()
                for voter, cid, value in rows
            ]
            local = rank_entries(ballot, entries, ballots)
            assert [(s.rank, s.cid) for s in results.standings] == [(s.rank, s.entry.track_id) for s in local]
            assert [round(s.score, 9) for s in results.standings] == [round(s.score, 9) for s in local]


def test_every_order_of_the_same_tallies_gives_the_same_results() -> None:
    tallies = [_as_tally(i, rows) for i, rows in _ballots_by_instance(BallotType.SCORE, 3).items()]
    first = combine(BallotType.SCORE, CIDS, tallies, PARTICIPANTS, DEADLINE, 0.4)
    for seed in range(10):
        shuffled = list(tallies)
        random.Random(seed).shuffle(shuffled)
        assert combine(BallotType.SCORE, CIDS, shuffled, dict(reversed(PARTICIPANTS.items())), DEADLINE, 0.4) == first


def test_late_forged_and_not_opted_in_tallies_are_listed_and_not_counted() -> None:
    honest = _tally("a", 3, {"bafkreia": (3, 3)})
    late = _tally("b", 50, {"bafkreib": (50, 50)}, sent_at=DEADLINE + timedelta(seconds=1))
    forged = _tally("c", 60, {"bafkreic": (60, 60)}, status=TallyStatus.FORGED, name="C")
    outsider = _tally("x", 70, {"bafkreid": (70, 70)}, name="X")
    results = combine(BallotType.APPROVAL, CIDS, [honest, late, forged, outsider], PARTICIPANTS, DEADLINE, None)
    assert [c.instance for c in results.communities] == ["a"]
    assert results.standings[0].cid == "bafkreia"
    assert ("B", "late") in results.not_counted
    assert ("C", "forged") in results.not_counted
    assert ("X", "not opted in") in results.not_counted
    assert ("C", "no tally") in results.not_counted  # the real C sent nothing valid
    assert all(s.votes == 0 for s in results.standings if s.cid != "bafkreia")


def test_a_second_tally_from_one_instance_does_not_count() -> None:
    first = _tally("a", 1, {"bafkreia": (1, 1)})
    second = _tally("a", 9, {"bafkreib": (9, 9)}, sent_at=DEADLINE - timedelta(seconds=5), event_id="$again")
    results = combine(BallotType.APPROVAL, CIDS, [second, first], {"a": "A"}, DEADLINE, None)
    assert results.communities[0].voters == 1
    assert ("A", "duplicate") in results.not_counted


def test_a_participant_without_a_tally_is_named() -> None:
    results = combine(
        BallotType.APPROVAL, CIDS, [_tally("a", 1, {"bafkreia": (1, 1)})], {"a": "A", "b": "B"}, DEADLINE, None
    )
    assert ("B", "no tally") in results.not_counted  # named though it sent nothing


def test_the_cap_holds_a_big_community_to_its_share() -> None:
    weights = cap_weights({"a": 80, "b": 10, "c": 10}, 0.5)
    weighted = {i: weights[i] * v for i, v in {"a": 80, "b": 10, "c": 10}.items()}
    assert abs(weighted["a"] / sum(weighted.values()) - 0.5) < 1e-9
    assert weights["b"] == weights["c"] == 1.0
    # Two big ones: both capped, and neither share goes above the cap.
    weights = cap_weights({"a": 50, "b": 45, "c": 5, "d": 5}, 0.3)
    weighted = {i: weights[i] * v for i, v in {"a": 50, "b": 45, "c": 5, "d": 5}.items()}
    assert max(w / sum(weighted.values()) for w in weighted.values()) <= 0.3 + 1e-9
    # A cap no split can meet (two communities, 40 % each) is not applied.
    assert cap_weights({"a": 9, "b": 1}, 0.4) == {"a": 1.0, "b": 1.0}


def test_the_cap_changes_who_wins_when_one_community_floods() -> None:
    flood = _tally("a", 100, {"bafkreia": (100, 100)})
    others = [_tally("b", 10, {"bafkreib": (10, 10)}), _tally("c", 10, {"bafkreib": (9, 9), "bafkreia": (1, 1)})]
    uncapped = combine(BallotType.APPROVAL, CIDS, [flood, *others], PARTICIPANTS, DEADLINE, None)
    capped = combine(BallotType.APPROVAL, CIDS, [flood, *others], PARTICIPANTS, DEADLINE, 0.34)
    assert uncapped.standings[0].cid == "bafkreia"
    assert capped.standings[0].cid == "bafkreib"
    weight = {c.instance: c.weight for c in capped.communities}
    assert weight["a"] < 0.25 and weight["b"] == 1.0


def test_more_voters_than_active_members_is_flagged_but_counted() -> None:
    results = combine(
        BallotType.APPROVAL,
        CIDS,
        [_tally("a", 40, {"bafkreia": (40, 40)}, active_members=12)],
        {"a": "A"},
        DEADLINE,
        None,
    )
    assert results.communities[0].flagged
    assert results.standings[0].votes == 40


def test_each_entry_shows_each_communitys_part() -> None:
    tallies = [_tally("a", 2, {"bafkreia": (2, 2)}), _tally("b", 3, {"bafkreia": (1, 1), "bafkreib": (3, 3)})]
    results = combine(BallotType.APPROVAL, CIDS, tallies, {"a": "A", "b": "B"}, DEADLINE, None)
    by_cid = {s.cid: s.by_community for s in results.standings}
    assert by_cid["bafkreia"] == (("A", 2, 2), ("B", 1, 1))
    assert by_cid["bafkreib"] == (("B", 3, 3),)
    assert by_cid["bafkreic"] == ()

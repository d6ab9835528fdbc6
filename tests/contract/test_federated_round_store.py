"""The FederatedRoundStore port, against SQLite and the in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.federated_round_model import (
    EntryCount,
    FederatedRound,
    Member,
    Participation,
    RoundEntry,
    Tally,
    TallyStatus,
)
from core.federated_round_ports import FederatedRoundStore
from core.model import Share
from core.voting_model import BallotType, Voter
from storage.memory_federated_rounds import MemoryFederatedRoundStore
from storage.sqlite.database import Database
from storage.sqlite.federated_rounds import SqliteFederatedRoundStore
from storage.sqlite.track_repository import SqliteTrackRepository
from storage.sqlite.voting_repository import SqliteVotingRepository
from tests.support.factories import make_track, member

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[FederatedRoundStore]:
    if request.param == "memory":
        yield MemoryFederatedRoundStore()
        return
    db = await Database.open(tmp_path / "db.sqlite3")
    yield SqliteFederatedRoundStore(db)
    await db.close()


def _round(round_id: str = "wp-org:1", local: int | None = None) -> FederatedRound:
    return FederatedRound(
        id=round_id,
        organiser="wp-org",
        organiser_name="Org",
        room="!room:hs",
        theme="Night drive",
        ballot=BallotType.SCORE,
        max_approvals=3,
        entries_per_member=2,
        anonymous=True,
        genre="synthwave",
        min_account_age_days=1.5,
        cap_share=0.5,
        submit_until=T0 + timedelta(hours=1),
        vote_until=T0 + timedelta(hours=2),
        tally_until=T0 + timedelta(hours=2, minutes=10),
        participation=Participation.INVITED,
        local_round=local,
        announced_at=T0,
    )


async def test_a_round_is_stored_once_and_reads_back_whole(store: FederatedRoundStore) -> None:
    assert await store.save_round(_round())
    assert not await store.save_round(_round())
    assert await store.get_round("wp-org:1") == _round()
    await store.set_participation("wp-org:1", Participation.JOINED, 7)
    await store.set_tally_sent("wp-org:1")
    found = await store.by_local_round(7)
    assert found is not None and found.participation is Participation.JOINED and found.tally_sent
    assert [r.id for r in await store.open_rounds()] == ["wp-org:1"]
    await store.set_results_at("wp-org:1", T0)
    assert await store.open_rounds() == []
    assert [r.id for r in await store.recent_rounds(5)] == ["wp-org:1"]


async def test_deadlines_brought_forward_read_back(store: FederatedRoundStore) -> None:
    await store.save_round(_round())
    await store.set_deadlines("wp-org:1", T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    await store.set_participation("wp-org:1", Participation.CANCELLED, 7)
    found = await store.get_round("wp-org:1")
    assert found is not None and (found.submit_until, found.vote_until, found.tally_until) == (
        T0,
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=2),
    )
    assert found.participation is Participation.CANCELLED and not found.takes_part


async def test_the_latest_opt_in_or_leave_wins(store: FederatedRoundStore) -> None:
    await store.save_round(_round())
    assert await store.set_member(Member("wp-org:1", "wp-b", "B", True, T0 + timedelta(minutes=2)))
    assert not await store.set_member(Member("wp-org:1", "wp-b", "B", False, T0 + timedelta(minutes=1)))
    assert await store.set_member(Member("wp-org:1", "wp-b", "B", False, T0 + timedelta(minutes=3)))
    assert [(m.instance, m.joined) for m in await store.members("wp-org:1")] == [("wp-b", False)]


async def test_entries_are_kept_once_per_cid_in_cid_order(store: FederatedRoundStore) -> None:
    await store.save_round(_round())
    second = RoundEntry("wp-org:1", "bafkreib", "t2", "wp-b", "p2", None, T0)
    first = RoundEntry("wp-org:1", "bafkreia", "t1", "wp-org", "p1", "Alice", T0, "Neon rain")
    assert await store.add_entry(second) and await store.add_entry(first)
    assert not await store.add_entry(first)
    assert list(await store.entries("wp-org:1")) == [first, second]


async def test_tallies_are_kept_per_event_with_their_status(store: FederatedRoundStore) -> None:
    await store.save_round(_round())
    tally = Tally("wp-org:1", "wp-b", "B", 3, 10, (EntryCount("bafkreia", 2, 7),), T0, TallyStatus.COUNTED, "$1")
    forged = Tally("wp-org:1", "wp-b", "B", 99, 0, (), T0 + timedelta(seconds=1), TallyStatus.FORGED, "$2", True)
    assert await store.add_tally(tally) and await store.add_tally(forged)
    assert not await store.add_tally(tally)
    assert list(await store.tallies("wp-org:1")) == [tally, forged]


async def test_the_outbox_keeps_order_until_done(store: FederatedRoundStore) -> None:
    first = await store.outbox_add("!room:hs", "announce", {"round": "wp-org:1"})
    await store.outbox_add("!room:hs", "tally", {"round": "wp-org:1", "voters": 2})
    pending = await store.outbox_pending(10)
    assert [(kind, dict(payload)) for _, _, kind, payload in pending] == [
        ("announce", {"round": "wp-org:1"}),
        ("tally", {"round": "wp-org:1", "voters": 2}),
    ]
    await store.outbox_done(first)
    assert [kind for _, _, kind, _ in await store.outbox_pending(10)] == ["tally"]


async def test_active_members_are_those_who_shared_or_voted_in_the_window(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        tracks, votes = SqliteTrackRepository(db), SqliteVotingRepository(db)
        for index, (name, when) in enumerate((("ann", T0), ("ben", T0 - timedelta(days=200)))):
            sharer = member(name)
            track = make_track(sharer, title=f"t{index}", when=when)
            await tracks.add(track, Share(track.id, sharer, when, "room"))
        await votes.set_track_vote(track.id, Voter("discord", "77"), 1, T0)
        await votes.set_track_vote(track.id, Voter("federation", "peer/x"), 1, T0)  # a peer's member: not ours
        store = SqliteFederatedRoundStore(db)
        assert await store.active_members(T0 - timedelta(days=90), T0 + timedelta(days=1)) == 2
        assert await store.active_members(T0 + timedelta(hours=1), T0 + timedelta(days=1)) == 0
    finally:
        await db.close()

"""Repository reads that stay fast at community size: answers, and the index they use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from core.voting_model import Ballot, RoundRules, Voter
from storage.sqlite.database import Database
from storage.sqlite.federation_store import PEER_STATS
from storage.sqlite.track_repository import SqliteTrackRepository
from storage.sqlite.voting_repository import SqliteVotingRepository
from tests.support.factories import make_track, member

WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE, BOB, CAROL = member("alice"), member("bob"), member("carol")


async def test_a_voters_ballots_entries_and_voter_count_come_from_point_queries(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        tracks = SqliteTrackRepository(db)
        repo = SqliteVotingRepository(db)
        rnd = await repo.create_round(RoundRules("Night"), ALICE, WHEN, WHEN, WHEN, "here")
        songs = [make_track(who, title) for who, title in ((ALICE, "A"), (BOB, "B"), (CAROL, "C"))]
        for song in songs:
            await tracks.add(song)
            await repo.add_entry(rnd.id, song.id, song.sharer, WHEN)
        for voter, entry in ((BOB, 1), (BOB, 3), (CAROL, 1)):
            await repo.set_ballot(Ballot(rnd.id, entry, Voter.of(voter), 1, WHEN))
        assert await repo.ballots_of(rnd.id, Voter.of(BOB)) == {1: 1, 3: 1}
        assert await repo.ballots_of(rnd.id, Voter.of(ALICE)) == {}
        assert await repo.voter_count(rnd.id) == 2
        second = await repo.entry(rnd.id, 2)
        assert second is not None and second.track_id == songs[1].id and await repo.entry(rnd.id, 9) is None
        found = await tracks.get_many([songs[0].id, songs[2].id, "missing"])  # type: ignore[list-item]
        assert {t.title for t in found.values()} == {"A", "C"}
        plan = await db.fetchall(
            "EXPLAIN QUERY PLAN SELECT entry, value FROM ballots WHERE round_id = ? AND platform = ? AND user_id = ?",
            (rnd.id, "matrix", "@bob:localhost"),
        )
        assert any("ballots_voter" in str(tuple(row)) for row in plan)
    finally:
        await db.close()


async def test_peer_stats_read_the_peers_manifests_by_origin_not_every_manifest(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        plan = [str(row[3]) for row in await db.fetchall(f"EXPLAIN QUERY PLAN {PEER_STATS}")]
        assert "SEARCH m USING COVERING INDEX fed_manifests_origin (origin=?)" in plan
        assert not any(step.startswith("SCAN m") for step in plan)
    finally:
        await db.close()

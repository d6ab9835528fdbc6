"""The TrackRepository port, against SQLite and the in-memory fake."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from core.model import Fingerprint, Share, TrackStatus, Verdict
from storage.memory import MemoryTrackRepository
from storage.sqlite.database import Database
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.support.factories import make_track, member

ALICE, BOB = member("alice"), member("bob")


@pytest.fixture(params=["sqlite", "memory"])
async def repo(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "memory":
        yield MemoryTrackRepository()
        return
    db = await Database.open(tmp_path / "db.sqlite3")
    yield SqliteTrackRepository(db)
    await db.close()


async def test_add_get_resolve(repo) -> None:
    track = make_track(ALICE, "Neon Rain", prompt="dreamy 80s synthwave")
    await repo.add(track, share=Share(track.id, ALICE, track.first_seen_at, "!room"))
    assert await repo.get(track.id) == track
    assert await repo.resolve(track.id) == track
    assert await repo.resolve(track.cid) == track
    assert await repo.resolve(track.cid[:12]) == track
    assert await repo.resolve("bafk") is None  # too short to be unambiguous
    assert [t.id for t in await repo.find_by_cid(track.cid)] == [track.id]
    assert [s.place for s in await repo.shares(track.id)] == ["!room"]
    assert await repo.count() == 1


async def test_add_many_stores_every_track_or_none(repo) -> None:
    first, second = make_track(ALICE, "Neon Rain"), make_track(BOB, "Glass Tide")
    await repo.add_many([first, second])
    assert await repo.get_many([first.id, second.id]) == {first.id: first, second.id: second}
    assert [t.id for t in await repo.search("glass")] == [second.id]
    third = make_track(BOB, "Low Sun")
    with pytest.raises(Exception):  # noqa: B017 - the store's own error for a duplicate id
        await repo.add_many([third, first])
    assert await repo.get(third.id) is None and await repo.count() == 2


async def test_search_and_listing(repo) -> None:
    a = make_track(ALICE, "Neon Rain", prompt="dreamy 80s synthwave")
    b = make_track(
        BOB, "Study Loop", genre="lofi", prompt="chill study beats", when=a.first_seen_at + timedelta(hours=1)
    )
    await repo.add(a)
    await repo.add(b)
    assert [t.id for t in await repo.search("dream")] == [a.id]
    assert [t.id for t in await repo.search("study loop")] == [b.id]
    assert await repo.search('" AND OR NEAR( *') == []
    assert [t.id for t in await repo.recent()] == [b.id, a.id]
    assert [t.id for t in await repo.by_sharer(BOB.platform, BOB.user_id)] == [b.id]
    await repo.set_verdict(a.id, Verdict.QUARANTINED, "near-duplicate")
    assert [t.id for t in await repo.by_verdict(Verdict.QUARANTINED)] == [a.id]
    await repo.set_genre(a.id, "ambient")
    assert (await repo.get(a.id)).genre == "ambient"
    await repo.set_status(a.id, TrackStatus.TAKEN_DOWN)
    assert a.cid not in await repo.referenced_cids()
    assert b.cid in await repo.referenced_cids()
    assert [t.id for t in await repo.search("dream")] == []


async def test_shares_since(repo) -> None:
    track = make_track(ALICE)
    await repo.add(track)
    for minutes in (0, 10, 50):
        await repo.add_share(Share(track.id, BOB, track.first_seen_at + timedelta(minutes=minutes), "x"))
    assert await repo.shares_since(BOB.platform, BOB.user_id, track.first_seen_at + timedelta(minutes=5)) == 2


async def test_fingerprint_candidates_find_shifted_copy(repo) -> None:
    rng = random.Random(7)
    original = tuple(rng.getrandbits(32) for _ in range(600))
    shifted = original[16:]  # a copy trimmed by ~2 s
    other = tuple(rng.getrandbits(32) for _ in range(600))
    a, b = make_track(ALICE, "orig"), make_track(BOB, "other")
    await repo.add(a, fingerprint=Fingerprint(original, 75.0))
    await repo.add(b, fingerprint=Fingerprint(other, 75.0))
    found = await repo.fingerprint_candidates(Fingerprint(shifted, 73.0))
    assert found and found[0][0] == a.id

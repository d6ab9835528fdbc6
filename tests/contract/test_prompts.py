"""The prompt library: service rules (memory) and the repository (SQLite and memory)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.errors import NotFoundError, UsageError
from core.services.prompts import PromptService
from core.voting_model import Voter
from storage.memory_prompts import MemoryPromptRepository
from storage.sqlite.database import Database
from storage.sqlite.prompt_repository import SqlitePromptRepository
from storage.sqlite.voting_repository import SqliteVotingRepository
from tests.support.factories import make_track, member

ALICE = member("alice")


@pytest.fixture(params=["sqlite", "memory"])
async def lib(request: pytest.FixtureRequest, tmp_path: Path):
    clock = ManualClock()
    if request.param == "memory":
        yield PromptService(MemoryPromptRepository(), clock), None
        return
    db = await Database.open(tmp_path / "db.sqlite3")
    yield PromptService(SqlitePromptRepository(db), clock), db
    await db.close()


async def test_save_dedupes_and_links(lib) -> None:
    service, _db = lib
    first, created = await service.save("Dreamy  80s synthwave", "prompt", ALICE, "Suno", {"model": "v4"}, "t1")
    assert created and first.generator == "suno" and first.settings == {"model": "v4"}
    again, created = await service.save("dreamy 80s SYNTHWAVE ", "prompt", member("bob"), track_id="t2")
    assert not created and again.id == first.id and again.track_ids == ("t1", "t2")
    assert (await service.show(first.id[:6])).text == "Dreamy 80s synthwave"
    with pytest.raises(UsageError, match="empty"):
        await service.save("   ")
    with pytest.raises(UsageError, match="too long"):
        await service.save("x" * 5000)
    with pytest.raises(NotFoundError):
        await service.show("ffffffff")


async def test_autofill_from_track(lib) -> None:
    service, _db = lib
    track = make_track(ALICE, prompt="lofi beats for studying")
    track = track.__class__(**{**track.__dict__, "style": "lo-fi, chill", "lyrics": "la la la", "generator": "suno"})
    saved = await service.autofill_from_track(track)
    assert sorted(p.kind for p in saved) == ["lyrics", "prompt", "style"]
    assert all(p.track_ids == (track.id,) for p in saved)


async def test_search_ranking_and_hostile_text(lib) -> None:
    service, _db = lib
    for text in (
        "dark techno with heavy bass",
        "synthwave sunset drive",
        "neon synthwave, retro synthwave night",
        "acoustic folk ballad",
    ):
        await service.save(text)
    found = await service.search("synthwave")
    assert {p.text for p in found} == {"synthwave sunset drive", "neon synthwave, retro synthwave night"}
    assert found[0].text.startswith("neon")  # more occurrences rank first
    assert await service.search('" AND OR NEAR( * -') == []
    with pytest.raises(UsageError):
        await service.search("   ")


async def test_more_like_and_top(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    clock = ManualClock()
    service = PromptService(SqlitePromptRepository(db), clock)
    votes = SqliteVotingRepository(db)
    base, _ = await service.save("glitchy vaporwave mall ambience", track_id="t1")
    like, _ = await service.save("vaporwave mall music", track_id="t2")
    await service.save("country road trip")
    for filler in range(5):
        await service.save(f"mall walk {filler}")
    similar = await service.more_like(base.id)
    assert similar and similar[0].id == like.id and base.id not in {p.id for p in similar}
    await votes.set_track_vote("t2", Voter("matrix", "@a:hs"), 1, clock.now())
    await votes.set_track_vote("t2", Voter("matrix", "@b:hs"), 1, clock.now())
    await votes.set_track_vote("t1", Voter("matrix", "@c:hs"), 1, clock.now() - timedelta(days=30))
    top = await service.top()
    assert [(p.id, p.votes) for p in top] == [(like.id, 2), (base.id, 1)]
    recent = await service.top(since=clock.now() - timedelta(days=7))
    assert [p.id for p in recent] == [like.id]
    await db.close()

"""Web plays: counted per track with nothing about the listener, rate-limited per address, a weak signal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.errors import NotFoundError
from core.recommend import Because
from core.services import web_plays
from core.services.web_plays import PlayOutcome
from tests.support.curation import World, people, world


@pytest.fixture(params=["memory", "sqlite"])
async def w(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with world(request.param, tmp_path) as built:
        yield built


async def test_a_play_counts_once_per_address_and_track_and_keeps_no_address(w: World) -> None:
    track = (await w.share(people("artist", 1)[0], "Song")).id
    plays = w.curation.plays
    assert await plays.report(track, "10.0.0.1") is PlayOutcome.COUNTED
    assert await plays.report(track, "10.0.0.1") is PlayOutcome.REPEAT
    assert await plays.report(track, "10.0.0.2") is PlayOutcome.COUNTED
    w.clock.advance(web_plays.REPEAT_AFTER)
    assert await plays.report(track, "10.0.0.1") is PlayOutcome.COUNTED
    stored = await w.curation.store.plays_since(None)
    assert [t for t, _ in stored] == [track] * 3
    assert not any("10.0.0" in str(row) for row in stored)


async def test_an_address_is_limited_per_hour(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_plays, "PER_ADDRESS_PER_HOUR", 2)
    artist = people("artist", 1)[0]
    tracks = [(await w.share(artist, f"Song {n}")).id for n in range(3)]
    outcomes = [await w.curation.plays.report(t, "10.0.0.9") for t in tracks]
    assert outcomes == [PlayOutcome.COUNTED, PlayOutcome.COUNTED, PlayOutcome.LIMITED]
    assert await w.curation.plays.report(tracks[2], "10.0.0.10") is PlayOutcome.COUNTED  # others are not held back
    w.clock.advance(timedelta(hours=1))
    assert await w.curation.plays.report(tracks[2], "10.0.0.9") is PlayOutcome.COUNTED


async def test_plays_of_hidden_tracks_are_refused(w: World) -> None:
    track = await w.share(people("artist", 1)[0], "Song")
    await w.hide(track)
    with pytest.raises(NotFoundError):
        await w.curation.plays.report(track.id, "10.0.0.1")


async def test_played_tracks_come_first_when_votes_tie_and_a_vote_outweighs_a_few_plays(w: World) -> None:
    artist = people("artist", 1)[0]
    quiet = await w.share(artist, "Quiet")
    played = await w.share(artist, "Played")
    voted = await w.share(artist, "Voted")
    for n in range(4):
        await w.curation.plays.report(played.id, f"10.0.0.{n}")
    await w.vote(voted, people("fan", 1)[0])
    w.later()
    newcomer = people("newcomer", 1)[0]
    found = await w.curation.recommendations.discover(newcomer)
    assert [r.track.id for r in found[:3]] == [voted.id, played.id, quiet.id]
    assert found[0].because is Because.POPULAR


async def test_plays_nudge_the_neighbours_picks(w: World) -> None:
    artist = people("artist", 1)[0]
    liked = await w.share(artist, "Shared taste")
    first = await w.share(artist, "First pick")
    second = await w.share(artist, "Second pick")
    fans = people("fan", 2)
    newcomer = people("newcomer", 1)[0]
    for fan in fans:
        await w.vote(liked, fan)
    await w.vote(first, fans[0])
    await w.vote(second, fans[1])
    await w.vote(liked, newcomer)
    w.later()
    before = [r.track.id for r in await w.curation.recommendations.discover(newcomer)][:2]
    assert set(before) == {first.id, second.id}
    loser = before[1]
    for n in range(3):
        await w.curation.plays.report(loser, f"10.0.1.{n}")
    w.later(1)  # past the 30 s refresh: the plays reach the index without a rebuild
    after = [r.track.id for r in await w.curation.recommendations.discover(newcomer)][:2]
    assert after == [loser, before[0]]

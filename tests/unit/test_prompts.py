"""PromptService rules against the in-memory repository: dedupe, validation, autofill."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.clock import ManualClock
from core.errors import NotFoundError, UsageError
from core.model import Evidence, Strength, TrackId
from core.services.prompts import MAX_TEXT, PromptService, normalise, prompt_id, tidy, words
from storage.memory_prompts import MemoryPromptRepository
from tests.support.factories import make_track, member

ALICE = member("alice")
BOB = member("bob")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def repo() -> MemoryPromptRepository:
    return MemoryPromptRepository()


@pytest.fixture
def service(repo: MemoryPromptRepository, clock: ManualClock) -> PromptService:
    return PromptService(repo, clock)


def test_normalised_hash_ignores_case_and_spacing() -> None:
    assert normalise("  Dreamy\t80s \n SYNTHWAVE ") == "dreamy 80s synthwave"
    assert prompt_id("prompt", "Dreamy 80s synthwave") == prompt_id("prompt", "dreamy   80S\nsynthwave ")
    assert prompt_id("prompt", "dreamy") != prompt_id("style", "dreamy")
    assert len(prompt_id("prompt", "x")) == 16


def test_tidy_keeps_lyric_lines() -> None:
    assert tidy("  verse one  \r\n\n\n\nchorus   here \n") == "verse one\n\nchorus here"


def test_words_match_the_index_tokeniser() -> None:
    assert words('Café "AND" OR NEAR( * lo-fi_80s') == ["cafe", "and", "or", "near", "lo", "fi", "80s"]


async def test_save_creates_then_dedupes_and_links(service: PromptService, clock: ManualClock) -> None:
    first, created = await service.save(
        "Dreamy  80s synthwave", "prompt", ALICE, " Suno ", {"model": "v4"}, TrackId("t1")
    )
    assert created
    assert (first.text, first.kind, first.generator, dict(first.settings)) == (
        "Dreamy 80s synthwave",
        "prompt",
        "suno",
        {"model": "v4"},
    )
    assert first.author == ALICE and first.created_at == clock.now() and first.track_ids == ("t1",)
    clock.advance(timedelta(hours=1))
    again, created = await service.save("dreamy 80s SYNTHWAVE\n", "prompt", BOB, track_id=TrackId("t2"))
    assert not created
    assert again.id == first.id and again.author == ALICE and again.created_at == first.created_at
    assert again.track_ids == ("t1", "t2")
    same_track, created = await service.save("DREAMY 80s synthwave", track_id=TrackId("t2"))
    assert not created and same_track.track_ids == ("t1", "t2")
    other_kind, created = await service.save("dreamy 80s synthwave", "style")
    assert created and other_kind.id != first.id
    assert await service.count() == 2


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
async def test_empty_text_is_refused(service: PromptService, text: str) -> None:
    with pytest.raises(UsageError, match="empty"):
        await service.save(text)


async def test_too_long_text_is_refused(service: PromptService) -> None:
    await service.save("x" * MAX_TEXT)  # exactly at the limit is fine
    with pytest.raises(UsageError, match=r"too long \(4001 characters; at most 4000\)"):
        await service.save("x" * (MAX_TEXT + 1))


async def test_unknown_kind_is_refused(service: PromptService) -> None:
    with pytest.raises(UsageError, match="unknown kind 'poem'"):
        await service.save("a poem", "poem")
    saved, _ = await service.save("rainy", " Style ")
    assert saved.kind == "style"


async def test_autofill_from_track(service: PromptService) -> None:
    track = make_track(ALICE, prompt="lofi beats for studying")
    evidence = Evidence(
        "page",
        "generator:suno",
        Strength.MODERATE,
        "Suno page",
        {"model": "chirp-v4", "seed": 1234, "junk": {"nested": 1}},
    )
    track = replace(
        track,
        style="lo-fi, chill",
        lyrics="la la la\n\nla la",
        generator="suno",
        generator_song_id="abc-123",
        evidence=(evidence,),
    )
    saved = await service.autofill_from_track(track)
    assert [p.kind for p in saved] == ["prompt", "style", "lyrics"]
    by_kind = {p.kind: p for p in saved}
    assert by_kind["prompt"].text == "lofi beats for studying"
    assert by_kind["lyrics"].text == "la la la\n\nla la"
    for prompt in saved:
        assert prompt.track_ids == (track.id,)
        assert prompt.generator == "suno" and prompt.author == ALICE
        assert dict(prompt.settings) == {"model": "chirp-v4", "seed": 1234, "duration_s": 30, "song_id": "abc-123"}
    # a second track with the same prompt links to the same entry
    other = replace(make_track(BOB, prompt="LOFI beats  for studying"), generator="suno")
    again = await service.autofill_from_track(other)
    assert [p.id for p in again] == [by_kind["prompt"].id]
    assert again[0].track_ids == (track.id, other.id)


async def test_autofill_skips_missing_texts_and_cuts_long_ones(service: PromptService) -> None:
    assert await service.autofill_from_track(make_track(ALICE)) == []
    long = replace(make_track(ALICE), lyrics="la " * 3000)
    saved = await service.autofill_from_track(long)
    assert len(saved) == 1 and saved[0].kind == "lyrics" and len(saved[0].text) <= MAX_TEXT


async def test_show_by_id_and_prefix(service: PromptService) -> None:
    saved, _ = await service.save("glitch hop with vinyl crackle")
    assert (await service.show(saved.id)).id == saved.id
    assert (await service.show(saved.id[:6].upper())).id == saved.id
    with pytest.raises(NotFoundError, match="no prompt 'ffffffff'"):
        await service.show("ffffffff")
    with pytest.raises(NotFoundError, match="at least 4"):
        await service.show(saved.id[:3])


async def test_search_validation_and_ranking(service: PromptService) -> None:
    for text in (
        "dark techno with heavy bass",
        "synthwave sunset drive",
        "neon synthwave, retro synthwave",
        "acoustic folk ballad",
    ):
        await service.save(text)
    with pytest.raises(UsageError, match="words"):
        await service.search("  ")
    with pytest.raises(UsageError):
        await service.search('" * ( )')
    found = await service.search("SYNTHWAVE")
    assert [p.text for p in found] == ["neon synthwave, retro synthwave", "synthwave sunset drive"]
    assert [p.text for p in await service.search("synth")] == [p.text for p in found]  # prefix
    assert await service.search("synthwave folk") == []  # every word must match
    assert len(await service.search("a", limit=1000)) <= 50


async def test_more_like_excludes_itself(service: PromptService) -> None:
    base, _ = await service.save("glitchy vaporwave mall ambience")
    like, _ = await service.save("vaporwave mall music")
    await service.save("country road trip")
    found = await service.more_like(base.id[:8])
    assert [p.id for p in found] == [like.id]
    with pytest.raises(NotFoundError):
        await service.more_like("00000000")


async def test_top_by_votes_of_tracks(service: PromptService, repo: MemoryPromptRepository, clock: ManualClock) -> None:
    a, _ = await service.save("prompt a", track_id=TrackId("t1"))
    await service.save("prompt a", track_id=TrackId("t2"))
    b, _ = await service.save("prompt b", track_id=TrackId("t3"))
    await service.save("prompt c")
    now = clock.now()
    repo.add_vote(TrackId("t1"), 1, now)
    repo.add_vote(TrackId("t2"), 1, now - timedelta(days=30))
    repo.add_vote(TrackId("t3"), 1, now)
    repo.add_vote(TrackId("t3"), 1, now)
    assert [(p.id, p.votes) for p in await service.top()] == sorted([(a.id, 2), (b.id, 2)])
    recent = await service.top(since=now - timedelta(days=7))
    assert [(p.id, p.votes) for p in recent] == [(b.id, 2), (a.id, 1)]
    assert (await service.show(a.id)).votes == 2

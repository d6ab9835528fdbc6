"""The weekly digest on a fixed data set, with a manual clock; published once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from core.clock import ManualClock
from core.events.model import EventKind
from core.services.digest import DigestSchedule, DigestService
from core.services.voting import VotingService
from core.views.digest import digest_reply
from storage.memory import MemoryKeyValue, MemoryTrackRepository, MemoryVotingRepository
from storage.memory_events import MemoryEventLog
from tests.support.factories import make_track, member

MONDAY_18 = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


async def _setup():
    clock = ManualClock(MONDAY_18 - timedelta(days=3))
    tracks = MemoryTrackRepository()
    events = MemoryEventLog()
    voting = VotingService(MemoryVotingRepository(), tracks, clock, events)
    state = MemoryKeyValue()
    digest = DigestService(
        DigestSchedule("mon", time(18, 0), "UTC", top_n=5), tracks, clock, events, state, "Synth Club", voting
    )
    return clock, tracks, voting, digest, events, state


async def test_contents_are_ranked_and_grouped() -> None:
    clock, tracks, voting, digest, _posts, _state = await _setup()
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    a = make_track(alice, "Neon", "synthwave", when=clock.now())
    b = make_track(bob, "Study", "lofi", when=clock.now())
    c = make_track(carol, "Drone", "ambient", when=clock.now() - timedelta(days=30))  # old: not new this week
    for track in (a, b, c):
        await tracks.add(track)
    for voter in (bob, carol):
        await voting.vote_track(a.id, voter, 1)
    await voting.vote_track(b.id, alice, 1)
    reply = digest_reply(await digest.build(until=MONDAY_18))
    data = reply.data
    assert [row["title"] for row in data["top"]] == ["Neon", "Study"]
    assert data["new_tracks"] == 2 and data["active_sharers"] == 2
    assert set(data["per_genre"]) == {"synthwave", "lofi"}
    assert "Synth Club" in (reply.title or "")
    assert reply == digest_reply(await digest.build(until=MONDAY_18))  # deterministic


async def test_published_once_across_restarts() -> None:
    clock, tracks, voting, digest, events, state = await _setup()
    assert await digest.publish_due() is None  # a new instance does not post for past weeks
    clock.set(MONDAY_18 + timedelta(minutes=1))
    sent = await digest.publish_due()
    assert sent is not None
    assert await digest.publish_due() is None
    published = [e.event for e in events.events if e.kind is EventKind.DIGEST_PUBLISHED]
    assert [e.week_ending for e in published] == [MONDAY_18]
    restarted = DigestService(digest.schedule, tracks, clock, events, state, "Synth Club", voting)
    assert await restarted.publish_due() is None
    assert (await restarted.published(MONDAY_18))["title"] == sent.title
    clock.advance(timedelta(days=14))  # down for two weeks: one digest at start-up, not two
    assert await restarted.publish_due() is not None
    assert await restarted.publish_due() is None


async def test_preview_is_the_digest_as_it_stands_built_at_most_five_minutes_ago() -> None:
    clock, tracks, voting, digest, _events, _state = await _setup()
    alice, bob, carol = member("alice"), member("bob"), member("carol")
    a = make_track(alice, "Neon", "synthwave", when=clock.now())
    b = make_track(bob, "Study", "lofi", when=clock.now())
    for track in (a, b):
        await tracks.add(track)
    await voting.vote_track(a.id, bob, 1)
    first = await digest.preview()
    assert first == await digest.build(until=clock.now())
    assert [t.title for t, _ in first.top] == ["Neon"]
    await voting.vote_track(b.id, alice, 1)
    await voting.vote_track(b.id, carol, 1)
    clock.advance(timedelta(minutes=4))
    assert await digest.preview() is first  # members asking within minutes share one build
    clock.advance(timedelta(minutes=1, seconds=1))
    later = await digest.preview()
    assert [t.title for t, _ in later.top] == ["Study", "Neon"] and later.week_ending == clock.now()

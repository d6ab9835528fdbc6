"""Curator reputation: rings gain little, broad approval counts, takedowns cost; boosts need it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.errors import DuplicateError, PermissionDeniedError
from core.events.model import EventKind
from core.model import TrackStatus
from core.services.digest import DigestSchedule, DigestService
from core.services.voting import VotingService
from core.views.digest import digest_reply
from core.voting_model import Ballot, Phase, RoundRules, Voter
from storage.memory import MemoryKeyValue
from tests.support.curation import World, people, world


@pytest.fixture(params=["memory", "sqlite"])
async def w(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with world(request.param, tmp_path, min_reputation=10.0) as built:
        yield built


async def test_a_ring_of_five_gains_less_than_one_member_the_wider_community_votes_up(w: World) -> None:
    ring = people("ring", 5)
    broad = people("broad", 1)[0]
    crowd = people("crowd", 16)
    ring_tracks = {m: [await w.share(m, f"{m.display_name} {n}") for n in range(4)] for m in ring}
    broad_tracks = [await w.share(broad, f"Broad {n}") for n in range(4)]
    for voter in ring:  # every ring member votes for every other member's every track: 16 votes each
        for owner, tracks in ring_tracks.items():
            if owner != voter:
                for track in tracks:
                    await w.vote(track, voter)
    for n, voter in enumerate(crowd):  # 16 votes too, from 16 members who are not voted back
        await w.vote(broad_tracks[n % 4], voter)
    rep = w.curation.reputation
    ring_scores = [(await rep.of(m)).score for m in ring]
    broad_rep = await rep.of(broad)
    assert max(ring_scores) * 3 < broad_rep.score, (ring_scores, broad_rep)
    ring_reasons = (await rep.of(ring[0])).reasons
    assert any("small circle" in r.text for r in ring_reasons)
    assert any("16 votes on 4 of your 4 tracks" in r.text for r in broad_rep.reasons)


async def test_a_takedown_costs_reputation_and_says_why(w: World) -> None:
    sharer = people("sharer", 1)[0]
    crowd = people("crowd", 6)
    tracks = [await w.share(sharer, f"Song {n}") for n in range(3)]
    for voter in crowd:
        for track in tracks:
            await w.vote(track, voter)
    before = await w.curation.reputation.of(sharer)
    await w.tracks.set_status(tracks[0].id, TrackStatus.TAKEN_DOWN)
    await w.rebuilt()
    after = await w.curation.reputation.of(sharer)
    assert after.score < before.score - 15, (before, after)
    assert any("“Song 0” was taken down" in r.text and r.points < 0 for r in after.reasons)


async def test_voting_early_for_a_track_the_community_then_likes_earns_reputation(w: World) -> None:
    scout, late = people("scout", 1)[0], people("late", 1)[0]
    artist = people("artist", 1)[0]
    track = await w.share(artist, "Hidden gem")
    await w.vote(track, scout)
    for voter in people("crowd", 8):
        await w.vote(track, voter)
    await w.vote(track, late)
    scout_rep, late_rep = await w.curation.reputation.of(scout), await w.curation.reputation.of(late)
    assert scout_rep.score > 0 and any("found 1 track early" in r.text for r in scout_rep.reasons)
    assert late_rep.score == 0


async def test_old_votes_count_less_than_new_ones(w: World) -> None:
    sharer = people("sharer", 1)[0]
    track = await w.share(sharer, "Song")
    for voter in people("crowd", 6):
        await w.vote(track, voter)
    fresh = (await w.curation.reputation.of(sharer)).score
    w.later(minutes=240 * 24 * 60)  # two half-lives
    aged = (await w.curation.reputation.of(sharer)).score
    assert 0 < aged < fresh / 2


async def test_boosting_needs_reputation_unless_moderator_and_records_an_event(w: World) -> None:
    newcomer, mod, owner = people("new", 1)[0], people("mod", 1)[0], people("owner", 1)[0]
    track = await w.share(owner, "Boost me")
    with pytest.raises(PermissionDeniedError, match="reputation of 10"):
        await w.curation.reputation.boost(track.id, newcomer)
    with pytest.raises(PermissionDeniedError, match="your own"):
        await w.curation.reputation.boost(track.id, owner, moderator=True)
    outcome = await w.curation.reputation.boost(track.id, mod, moderator=True)
    assert outcome.boosts == 1 and outcome.added
    with pytest.raises(DuplicateError):
        await w.curation.reputation.boost(track.id, mod, moderator=True)
    recorded = await w.events.after(0)
    assert [e.kind for e in recorded] == [EventKind.TRACK_BOOSTED]
    assert recorded[0].event.track_id == track.id
    withdrawn = await w.curation.reputation.boost(track.id, mod, withdraw=True)
    assert withdrawn.boosts == 0 and withdrawn.added
    assert [e.event.reason for e in await w.events.after(0)] == [None, "withdrawn"]


async def test_a_member_with_reputation_may_boost(w: World) -> None:
    curator, other = people("curator", 1)[0], people("other", 1)[0]
    for n in range(3):
        track = await w.share(curator, f"Mine {n}")
        for voter in people(f"crowd{n}-", 6):
            await w.vote(track, voter)
    assert (await w.curation.reputation.of(curator)).score >= 10
    target = await w.share(other, "Theirs")
    assert (await w.curation.reputation.boost(target.id, curator)).boosts == 1


async def test_the_leaderboard_is_off_unless_the_community_turns_it_on(w: World, tmp_path: Path) -> None:
    with pytest.raises(PermissionDeniedError):
        await w.curation.reputation.leaderboard()
    async with world("memory", tmp_path, public_leaderboard=True) as open_world:
        sharer = people("sharer", 1)[0]
        track = await open_world.share(sharer)
        for voter in people("crowd", 4):
            await open_world.vote(track, voter)
        board = await open_world.curation.reputation.leaderboard()
        assert board[0][0] == (sharer.platform, sharer.user_id)


async def test_a_withdrawn_vote_leaves_the_reputation_at_the_next_rebuild(w: World) -> None:
    sharer, fan = people("sharer", 1)[0], people("fan", 1)[0]
    track = await w.share(sharer, "Song")
    await w.vote(track, fan)
    assert (await w.curation.reputation.of(sharer)).score > 0
    await w.voting.delete_track_vote(track.id, Voter.of(fan))
    await w.rebuilt()
    assert (await w.curation.reputation.of(sharer)).score == 0


async def test_placing_in_a_closed_round_earns_reputation(w: World) -> None:
    alice, bob, carol = people("alice", 1)[0], people("bob", 1)[0], people("carol", 1)[0]
    tracks = [await w.share(who, f"Entry {n}") for n, who in enumerate((alice, bob, carol))]
    now = w.clock.now()
    rnd = await w.voting.create_round(
        RoundRules("Night"), alice, now, now + timedelta(hours=1), now + timedelta(hours=2), "room"
    )
    entries = [await w.voting.add_entry(rnd.id, t.id, t.sharer, now) for t in tracks]
    for n in range(3):  # alice's entry first, bob's second, carol's none
        await w.voting.set_ballot(Ballot(rnd.id, entries[0].number, Voter.of(people(f"v{n}", 1)[0]), 1, now))
    await w.voting.set_ballot(Ballot(rnd.id, entries[1].number, Voter.of(people("v0", 1)[0]), 1, now))
    before = await w.curation.reputation.of(alice)
    assert not any("placed" in r.text for r in before.reasons)  # not before the round closes
    assert await w.voting.set_phase(rnd.id, Phase.VOTING, Phase.SUBMISSION)
    assert await w.voting.set_phase(rnd.id, Phase.CLOSED, Phase.VOTING)
    won, second = await w.curation.reputation.of(alice), await w.curation.reputation.of(bob)
    assert any(r.text == 'placed 1st in round #1 "Night"' and r.points == 10 for r in won.reasons)
    assert any(r.text.startswith("placed 2nd") and r.points == 6 for r in second.reasons)


async def test_the_digest_highlights_say_boosted_by_n_curators(w: World) -> None:
    top = await w.share(people("a", 1)[0], "Top")
    for n in range(2):
        await w.vote(top, people(f"fan{n}", 1)[0])
        await w.curation.reputation.boost(top.id, people(f"mod{n}", 1)[0], moderator=True)
    digest = DigestService(
        DigestSchedule(),
        w.tracks,
        w.clock,
        w.events,
        MemoryKeyValue(),
        "Club",
        VotingService(w.voting, w.tracks, w.clock, w.events),
        boosts=w.curation.reputation.boost_counts,
    )
    built = await digest.build()
    assert "1. Top — A0 (2 votes, boosted by 2 curators)" in digest_reply(built).text
    assert built.to_data()["top"][0]["boosts"] == 2

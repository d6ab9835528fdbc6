"""One contract for both ``CurationStore`` implementations (in-memory and SQLite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.curation_ports import LineageLink, Relation, SignalKind
from core.model import Cid, Share, TrackStatus, Verdict
from core.voting_model import Voter
from tests.support.curation import World, people, world


@pytest.fixture(params=["memory", "sqlite"])
async def w(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with world(request.param, tmp_path) as built:
        yield built


async def test_likes_are_votes_and_reshares_by_others_read_incrementally(w: World) -> None:
    alice, bob, carol = people("alice", 1)[0], people("bob", 1)[0], people("carol", 1)[0]
    track = await w.share(alice, "Song")
    await w.vote(track, bob)
    middle = w.clock.now()
    await w.tracks.add_share(Share(track.id, carol, w.clock.now(), "room"))  # carol shares the same bytes
    store = w.curation.store
    everything = await store.likes_since(None)
    assert [(f.member, f.kind) for f in everything] == [
        ((bob.platform, bob.user_id), SignalKind.VOTE),
        ((carol.platform, carol.user_id), SignalKind.RESHARE),
    ]
    assert [f.member for f in await store.likes_since(middle)] == [(carol.platform, carol.user_id)]
    assert await store.likes_of((bob.platform, bob.user_id)) == {track.id}
    assert await store.likes_of((alice.platform, alice.user_id)) == {track.id}  # her own share


async def test_track_facts_are_public_tracks_and_penalties_the_hidden_ones(w: World) -> None:
    alice = people("alice", 1)[0]
    kept = await w.share(alice, "Kept", prompt="warm pads")
    down = await w.share(alice, "Down")
    rejected = await w.share(alice, "Rejected")
    await w.tracks.set_status(down.id, TrackStatus.TAKEN_DOWN)
    await w.hide(rejected, Verdict.REJECTED)
    facts = await w.curation.store.track_facts_since(None)
    assert [(f.track_id, f.text) for f in facts] == [(kept.id, "Kept warm pads")]
    assert [f async for page in w.curation.store.track_fact_pages() for f in page] == list(facts)
    penalties = await w.curation.store.penalties((alice.platform, alice.user_id))
    assert sorted((p.title, p.taken_down) for p in penalties) == [("Down", True), ("Rejected", False)]


async def test_boosts_are_one_per_member_and_track(w: World) -> None:
    track = await w.share(people("alice", 1)[0])
    store = w.curation.store
    first, second = ("matrix", "@a:x"), ("matrix", "@b:x")
    assert await store.add_boost(track.id, first, w.clock.now())
    assert not await store.add_boost(track.id, first, w.clock.now())
    assert await store.add_boost(track.id, second, w.clock.now() + timedelta(seconds=1))
    assert await store.boost_counts([track.id]) == {track.id: 2}
    assert list(await store.boosters(track.id)) == [first, second]
    assert await store.remove_boost(track.id, first) and not await store.remove_boost(track.id, first)
    assert await store.boost_counts([track.id]) == {track.id: 1}


async def test_peer_boosts_keep_the_newest_count_from_the_origin_only(w: World) -> None:
    store, cid, now = w.curation.store, Cid("bafytrack"), w.clock.now()
    assert await store.set_peer_boosts(cid, "origin", 2, now)
    assert not await store.set_peer_boosts(cid, "origin", 1, now - timedelta(minutes=1))  # stale
    assert not await store.set_peer_boosts(cid, "someone-else", 9, now + timedelta(minutes=1))
    assert await store.set_peer_boosts(cid, "origin", 3, now + timedelta(minutes=1))
    assert await store.peer_boosts(cid) == 3 and await store.peer_boosts(Cid("other")) == 0


async def test_links_keep_the_first_parent_and_most_remixed_leaves_out_stems(w: World) -> None:
    store, now = w.curation.store, w.clock.now()
    tracks = [await w.share(people(f"m{n}", 1)[0], f"T{n}") for n in range(5)]
    parent = Cid("bafyparent")
    await store.add_link(LineageLink(tracks[0].id, tracks[0].cid, parent, Relation.REMIX, now))
    await store.add_link(LineageLink(tracks[0].id, tracks[0].cid, Cid("other"), Relation.COVER, now))
    await store.add_link(LineageLink(tracks[1].id, tracks[1].cid, parent, Relation.COVER, now + timedelta(1)))
    for t in tracks[2:]:
        await store.add_link(LineageLink(t.id, t.cid, Cid("stemmed"), Relation.STEMS, now))
    link = await store.parent_of(tracks[0].id)
    assert link is not None and (link.parent_cid, link.relation) == (parent, Relation.REMIX)
    assert [k.child_id for k in await store.children_of(parent)] == [tracks[0].id, tracks[1].id]
    assert list(await store.most_remixed(now - timedelta(days=1), 5)) == [(parent, 2)]


async def test_every_vote_is_read_once_in_time_order_across_pages(w: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from storage import memory_curation
    from storage.sqlite import curation_store

    for module in (curation_store, memory_curation):  # page boundaries fall inside runs of equal times
        monkeypatch.setattr(module, "LIKES_PAGE", 2)
    sharers, voters = people("sharer", 3), people("voter", 4)
    tracks = [await w.share(sharer, f"Song {n}") for n, sharer in enumerate(sharers)]
    await w.tracks.add_share(Share(tracks[0].id, voters[0], w.clock.now(), "room"))  # a re-share: not a vote
    w.clock.advance(timedelta(seconds=1))
    start = w.clock.now()
    expected = {}
    for step in range(3):  # every vote of a step is cast at the same moment (a new vote replaces the old)
        at = w.clock.now()
        for track in tracks:
            for voter in voters[step:]:
                await w.voting.set_track_vote(track.id, Voter.of(voter), 1, at)
                expected[track.id, (voter.platform, voter.user_id)] = at
        w.clock.advance(timedelta(seconds=1))
    await w.voting.set_track_vote(tracks[1].id, Voter.of(voters[3]), -1, w.clock.now())  # no longer a like
    del expected[tracks[1].id, (voters[3].platform, voters[3].user_id)]
    likes = await w.curation.store.likes_since(start)
    assert sorted((f.track_id, f.member, f.at) for f in likes) == sorted((*k, at) for k, at in expected.items())
    assert [f.at for f in likes] == sorted(f.at for f in likes)
    rows = [row async for page in w.curation.store.vote_pages() for row in page]
    assert sorted(rows) == sorted((t, p, u, int(at.timestamp())) for (t, (p, u)), at in expected.items())
    assert [r[3] for r in rows] == sorted(r[3] for r in rows)
    assert [(f.track_id, f.member) for f in await w.curation.store.reshares()] == [
        (tracks[0].id, (voters[0].platform, voters[0].user_id))
    ]

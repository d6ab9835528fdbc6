"""The packed curation index: a bulk build answers exactly as one grown a fact at a time."""

from __future__ import annotations

import platform
import random
from array import array
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bots.freed_memory import release_freed_memory
from core.curation_build import IndexBuilder
from core.curation_index import CurationIndex
from core.curation_ports import Member, SignalKind, TrackFact, VoteFact
from core.curation_rows import Interned, Rows, packed
from core.model import TrackId
from core.services.curation_feed import REBUILD, CurationFeed
from tests.support.curation import answers_of, people, world

START = datetime(2026, 1, 1, tzinfo=UTC)
GENRES = ["synthwave", "lofi", "jazz", None]
WORDS = [f"word{n}" for n in range(40)]


def test_rows_read_the_packed_base_and_what_grew_after_it() -> None:
    rows = Rows(*packed([[1, 2, 3], [], [4]]))
    rows.append(1, 9)
    rows.append(2, 5)
    rows.append(7, 8)  # a row past the packed ones
    assert [list(rows.row(i)) for i in range(4)] == [[1, 2, 3], [9], [4, 5], []]
    assert list(rows.row(7)) == [8]
    assert list(rows.row(0, last=2)) == [2, 3]
    assert list(rows.row(2, last=1)) == [5]
    assert list(rows.row(2, last=5)) == [4, 5]
    assert [rows.size(i) for i in (0, 1, 2, 3, 7)] == [3, 1, 2, 0, 1]
    assert (rows.position(2, 5), rows.position(2, 4), rows.position(0, 9), rows.position(7, 8)) == (1, 0, -1, 0)
    assert (rows.at(2, 1), rows.at(0, 2)) == (5, 3)
    again = rows.packed_copy(8)
    assert [list(again.row(i)) for i in range(8)] == [list(rows.row(i)) for i in range(8)]
    assert again.grown_count() == 0 and rows.grown_count() == 3


def test_interned_keys_are_numbered_in_order_both_ways_before_and_after_packing() -> None:
    keys = Interned()
    assert [keys.add(k) for k in ("b", "a", "b", "ü")] == [(0, True), (1, True), (0, False), (2, True)]
    keys.pack()
    assert keys.add("c") == (3, True)
    assert [keys.find(k) for k in ("a", "b", "c", "ü", "zz")] == [1, 0, 3, 2, None]
    assert list(keys.keys()) == ["b", "a", "ü", "c"]
    keys.pack()
    assert keys.find("c") == 3 and len(keys) == 4


def _facts(seed: int) -> tuple[list[TrackFact], list[VoteFact], list[tuple[TrackId, datetime]]]:
    rng = random.Random(seed)
    members: list[Member] = [("discord", f"m{n}") for n in range(60)] + [("matrix", f"@u{n}:hs") for n in range(20)]
    tracks = [
        TrackFact(
            TrackId(f"t{n:03d}"),
            rng.choice(members),
            rng.choice(GENRES),
            " ".join(rng.sample(WORDS, 5)),
            START + timedelta(hours=n),
        )
        for n in range(120)
    ]
    pairs = {(rng.randrange(125), rng.randrange(len(members))) for _ in range(1500)}  # 5 tracks without facts
    likes = [
        VoteFact(
            TrackId(f"t{t:03d}"), members[m], START + timedelta(days=1, seconds=rng.randrange(10**6))
        )  # whole seconds, as the index keeps them
        for t, m in sorted(pairs)
    ]
    likes.sort(key=lambda f: f.at)
    late = START + timedelta(days=30)
    # re-shares after the votes (one repeats a vote: it must count once)
    reshares = [VoteFact(likes[0].track_id, likes[0].member, late, SignalKind.RESHARE)] + [
        VoteFact(
            TrackId(f"t{rng.randrange(120):03d}"),
            ("matrix", f"@new{n}:hs"),
            late + timedelta(minutes=n),
            SignalKind.RESHARE,
        )
        for n in range(10)
    ]
    plays = [(TrackId(f"t{rng.randrange(120):03d}"), START + timedelta(days=2, minutes=n)) for n in range(50)]
    return tracks, likes + reshares, plays


def _built(tracks: list[TrackFact], likes: list[VoteFact], plays: list[tuple[TrackId, datetime]]) -> CurationIndex:
    builder = IndexBuilder()
    builder.add_tracks(tracks)
    votes = [(f.track_id, *f.member, int(f.at.timestamp())) for f in likes if f.kind is SignalKind.VOTE]
    for start in range(0, len(votes), 97):
        builder.add_votes(votes[start : start + 97])
    builder.add_likes(f for f in likes if f.kind is SignalKind.RESHARE)
    return builder.finish(plays)


def test_a_bulk_build_answers_as_the_index_grown_one_fact_at_a_time() -> None:
    tracks, likes, plays = _facts(3)
    grown = CurationIndex()
    grown.extend(tracks, likes, plays)
    built = _built(tracks, likes, plays)
    assert built.like_count == len(likes) - 1  # the re-share of a voted track counted once
    assert answers_of(built) == answers_of(grown)
    # and both keep growing alike after the build
    more_tracks, more_likes, _ = _facts(4)
    newer = [
        TrackFact(TrackId(f"n{f.track_id}"), f.sharer, f.genre, f.text, f.at + timedelta(days=90))
        for f in more_tracks[:20]
    ]
    extra = [VoteFact(TrackId(f"n{f.track_id}"), f.member, f.at + timedelta(days=90)) for f in more_likes[:300]]
    extra += likes[:50]  # likes it holds already
    for index in (grown, built):
        index.extend(newer, extra, plays[:5])
    assert answers_of(built) == answers_of(grown)


def test_like_times_and_the_members_who_liked_a_track_stay_in_the_order_they_liked() -> None:
    tracks, likes, plays = _facts(5)
    built = _built(tracks, likes, plays)
    for t in range(built.track_count):
        times = built.like_times(t)
        assert list(times) == sorted(times)
        for m, at in zip(built.likers(t), times, strict=True):
            assert built.liked_at(t, m) == at
    assert isinstance(built.likers(0), array)


async def test_the_feed_hands_memory_back_after_each_build_and_rebuild(tmp_path: Path) -> None:
    builds: list[int] = []
    async with world("sqlite", tmp_path) as w:
        sharer, voter = people("sharer", 1)[0], people("voter", 1)[0]
        track = await w.share(sharer, "Song")
        await w.vote(track, voter)
        feed = CurationFeed(w.curation.store, w.clock, after_build=lambda: builds.append(1))
        assert (await feed.index()).like_count == 1 and builds == [1]
        w.clock.advance(REBUILD)
        await feed.index()
        await feed.settled()
        assert builds == [1, 1]
    assert release_freed_memory() is (platform.libc_ver()[0] == "glibc")

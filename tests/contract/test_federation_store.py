"""The FederationStore port, against SQLite and the in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.federation.ports import FederationStore, Peer, QueueItem
from core.model import Cid, TrackId, TrackStatus
from core.ports import TrackRepository
from storage.memory import MemoryTrackRepository
from storage.memory_federation import MemoryFederationStore
from storage.sqlite.database import Database
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.support.factories import make_track, member

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Stores:
    store: FederationStore
    tracks: TrackRepository


@pytest.fixture(params=["sqlite", "memory"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "memory":
        tracks = MemoryTrackRepository()
        yield Stores(MemoryFederationStore(tracks), tracks)
        return
    db = await Database.open(tmp_path / "db.sqlite3")
    yield Stores(SqliteFederationStore(db), SqliteTrackRepository(db))
    await db.close()


def _item(track_id: str, cid: str, *sources: dict[str, str]) -> QueueItem:
    return QueueItem(TrackId(track_id), Cid(cid), {"track_id": track_id, "cid": cid}, tuple(sources), 0)


def _peer(instance: str, user: str, name: str) -> Peer:
    return Peer(instance, user, f"key-{instance}", name, "community", "https://example.org")


async def test_events_are_marked_seen_once(stores: Stores) -> None:
    store = stores.store
    assert not await store.seen("$1")
    assert await store.mark_seen("$1")
    assert not await store.mark_seen("$1")
    assert await store.seen("$1") and not await store.seen("$2")


async def test_peer_keeps_its_account_and_first_sighting(stores: Stores) -> None:
    store = stores.store
    await store.upsert_peer(_peer("wp-a", "@a:hs", "Alpha"), T0)
    renamed = replace(_peer("wp-a", "@a:hs", "Alpha two"), community="new", homepage="https://new")
    await store.upsert_peer(renamed, T0 + timedelta(hours=1))
    found = await store.peer_by_instance("wp-a")
    assert found is not None
    assert (found.name, found.community, found.homepage) == ("Alpha two", "new", "https://new")
    assert (found.first_seen, found.last_seen) == (T0, T0 + timedelta(hours=1))
    assert found.user_id == "@a:hs" and found.public_key == "key-wp-a"
    await store.touch_peer("@a:hs", T0 + timedelta(days=1))
    touched = await store.peer_by_user("@a:hs")
    assert touched is not None and touched.last_seen == T0 + timedelta(days=1) and touched.first_seen == T0
    assert await store.peer_by_user("@nobody:hs") is None
    assert await store.peer_by_instance("wp-none") is None


async def test_an_account_answers_with_its_first_registered_peer(stores: Stores) -> None:
    store = stores.store
    await store.upsert_peer(_peer("wp-new", "@a:hs", "New"), T0 + timedelta(hours=2))
    await store.upsert_peer(_peer("wp-old", "@a:hs", "Old"), T0)
    found = await store.peer_by_user("@a:hs")
    assert found is not None and found.instance_id == "wp-old"


async def test_peer_stats_count_federated_tracks_still_up(stores: Stores) -> None:
    store, tracks = stores.store, stores.tracks
    await store.upsert_peer(_peer("wp-b", "@b:hs", "Beta"), T0)
    await store.upsert_peer(_peer("wp-a", "@a:hs", "Alpha"), T0)
    kept = replace(make_track(member("x")), origin_instance="wp-a", size=1000)
    gone = replace(make_track(member("y")), origin_instance="wp-a", size=500)
    never_published = replace(make_track(member("w")), origin_instance="wp-a", size=300)
    local = replace(make_track(member("z")), size=70)
    for track in (kept, gone, never_published, local):
        await tracks.add(track)
    for track in (kept, gone):
        await store.save_manifest(track.id, track.cid, "wp-a", {"track_id": track.id}, None)
    await tracks.set_status(gone.id, TrackStatus.TAKEN_DOWN)
    stats = await store.peer_stats()
    assert [(s.peer.name, s.entries, s.bytes) for s in stats] == [
        ("Alpha", 1, 1000),  # the taken-down track and the one never in the federation do not count
        ("Beta", 0, 0),
    ]


async def test_first_manifest_wins_and_event_ids_follow(stores: Stores) -> None:
    store = stores.store
    first = {"track_id": "t1", "title": "First"}
    await store.save_manifest(TrackId("t1"), Cid("c1"), "wp-a", first, None)
    await store.save_manifest(TrackId("t1"), Cid("c1"), "wp-a", {"track_id": "t1", "title": "Later"}, "$e1")
    assert await store.manifest(TrackId("t1")) == first
    assert await store.track_for_event("$e1") == "t1"
    await store.save_manifest(TrackId("t1"), Cid("c1"), "wp-a", first, None)  # no event id: the old one stays
    assert await store.track_for_event("$e1") == "t1"
    await store.set_manifest_event(TrackId("t1"), "$e2")
    assert await store.track_for_event("$e2") == "t1" and await store.track_for_event("$e1") is None
    await store.set_manifest_event(TrackId("t-none"), "$e3")  # no manifest: nothing recorded
    assert await store.track_for_event("$e3") is None
    assert await store.manifest(TrackId("t-none")) is None


async def test_stored_manifests_are_copies(stores: Stores) -> None:
    store = stores.store
    document = {"track_id": "t1", "tags": ["a"]}
    await store.save_manifest(TrackId("t1"), Cid("c1"), "wp-a", document, None)
    document["tags"].append("changed after saving")
    read = await store.manifest(TrackId("t1"))
    assert read == {"track_id": "t1", "tags": ["a"]}
    assert isinstance(read, dict)
    read["tags"].append("changed after reading")
    assert await store.manifest(TrackId("t1")) == {"track_id": "t1", "tags": ["a"]}


async def test_manifests_skip_tracks_taken_down_here(stores: Stores) -> None:
    store, tracks = stores.store, stores.tracks
    active, taken = make_track(member("a")), make_track(member("b"))
    for track in (active, taken):
        await tracks.add(track)
        await store.save_manifest(track.id, track.cid, "wp-a", {"track_id": track.id}, None)
    await store.save_manifest(TrackId("queued"), Cid("c9"), "wp-a", {"track_id": "queued"}, None)
    await tracks.set_status(taken.id, TrackStatus.TAKEN_DOWN)
    listed = [m["track_id"] async for m in store.manifests()]
    assert listed == [active.id, "queued"]  # in the order they were saved


async def test_queue_dedupes_orders_by_due_and_retries(stores: Stores) -> None:
    store = stores.store
    assert await store.enqueue(_item("t1", "c1", {"mxc": "mxc://hs/1"}), T0 + timedelta(minutes=2))
    assert await store.enqueue(_item("t2", "c2"), T0)
    assert not await store.enqueue(_item("t1", "c1", {"mxc": "mxc://hs/other"}), T0)
    assert await store.queue_size() == 2
    assert [i.track_id for i in await store.due(T0 + timedelta(minutes=5), 10)] == ["t2", "t1"]
    assert [i.track_id for i in await store.due(T0 + timedelta(minutes=5), 1)] == ["t2"]
    assert [i.track_id for i in await store.due(T0, 10)] == ["t2"]
    (first,) = [i for i in await store.due(T0 + timedelta(minutes=5), 10) if i.track_id == "t1"]
    assert first.sources == ({"mxc": "mxc://hs/1"},) and first.attempts == 0 and first.last_error is None
    assert first.manifest == {"track_id": "t1", "cid": "c1"}
    await store.retry_later(TrackId("t2"), "404", T0 + timedelta(hours=1))
    await store.retry_later(TrackId("t2"), "still 404", T0 + timedelta(hours=2))
    assert [i.track_id for i in await store.due(T0 + timedelta(minutes=5), 10)] == ["t1"]
    (failing,) = await store.failures(10)
    assert (failing.track_id, failing.attempts, failing.last_error) == ("t2", 2, "still 404")
    await store.finish(TrackId("t1"))
    await store.finish(TrackId("t-none"))
    assert await store.queue_size() == 1
    assert await store.failures(0) == []


async def test_due_compares_times_to_the_microsecond(stores: Stores) -> None:
    store = stores.store
    await store.enqueue(_item("t1", "c1"), T0 + timedelta(microseconds=500))
    assert await store.due(T0, 10) == []
    assert await store.due(T0 + timedelta(microseconds=499), 10) == []
    assert [i.track_id for i in await store.due(T0 + timedelta(microseconds=500), 10)] == ["t1"]
    assert [i.track_id for i in await store.due(T0 + timedelta(seconds=1), 10)] == ["t1"]


async def test_due_leaves_out_what_is_already_under_way(stores: Stores) -> None:
    store = stores.store
    for n in range(5):
        await store.enqueue(_item(f"t{n}", f"c{n}"), T0 + timedelta(seconds=n))
    later = T0 + timedelta(minutes=1)
    under_way = {TrackId("t0"), TrackId("t2"), TrackId("t-gone")}
    assert [i.track_id for i in await store.due(later, 2, exclude=under_way)] == ["t1", "t3"]
    assert [i.track_id for i in await store.due(later, 10, exclude=under_way)] == ["t1", "t3", "t4"]
    assert [i.track_id for i in await store.due(later, 10, exclude=())] == ["t0", "t1", "t2", "t3", "t4"]


async def test_failures_worst_first(stores: Stores) -> None:
    store = stores.store
    for name, attempts in (("t1", 1), ("t2", 3), ("t3", 0)):
        await store.enqueue(_item(name, f"c-{name}"), T0)
        for _ in range(attempts):
            await store.retry_later(TrackId(name), "down", T0)
    assert [(i.track_id, i.attempts) for i in await store.failures(10)] == [("t2", 3), ("t1", 1)]
    assert [i.track_id for i in await store.failures(1)] == ["t2"]


async def test_new_source_joins_queued_items_and_makes_them_due(stores: Stores) -> None:
    store = stores.store
    await store.add_source(Cid("c1"), {"mxc": "mxc://hs/early"})  # heard of before the track
    assert await store.enqueue(_item("t1", "c1", {"mxc": "mxc://hs/origin"}), T0 + timedelta(hours=1))
    assert await store.enqueue(_item("t2", "c2"), T0)
    await store.retry_later(TrackId("t1"), "origin gone", T0 + timedelta(hours=3))
    assert [i.track_id for i in await store.due(T0, 10)] == ["t2"]
    await store.add_source(Cid("c1"), {"mxc": "mxc://hs/holder"})
    await store.add_source(Cid("c1"), {"mxc": "mxc://hs/holder"})  # heard twice, listed once
    due = await store.due(T0, 10)
    assert [i.track_id for i in due] == ["t1", "t2"]  # due at once, ahead of the rest
    assert due[0].sources == (
        {"mxc": "mxc://hs/origin"},
        {"mxc": "mxc://hs/early"},
        {"mxc": "mxc://hs/holder"},
    )
    assert due[0].attempts == 1


async def test_recorded_names_tracks_with_a_record(stores: Stores) -> None:
    store, tracks = stores.store, stores.tracks
    here = make_track(member("a"))
    await tracks.add(here)
    assert await store.recorded([here.id, TrackId("elsewhere")]) == {here.id}
    assert await store.recorded(iter([])) == set()
    many = [TrackId(f"t{i}") for i in range(1200)] + [here.id]  # more than one query's worth of ids
    assert await store.recorded(many) == {here.id}


async def test_outbox_is_fifo_and_ids_are_not_reused(stores: Stores) -> None:
    store = stores.store
    first = await store.outbox_add("track", {"track_id": "t1"})
    second = await store.outbox_add("tombstone", {"track_id": "t1", "reason": None})
    assert await store.outbox_pending(10) == [
        (first, "track", {"track_id": "t1"}),
        (second, "tombstone", {"track_id": "t1", "reason": None}),
    ]
    assert [i for i, _, _ in await store.outbox_pending(1)] == [first]
    await store.outbox_done(first)
    await store.outbox_done(second)
    assert await store.outbox_pending(10) == []
    third = await store.outbox_add("have", {"track_id": "t2"})
    assert third > second


async def test_atomic_commits_or_rolls_back_store_and_tracks_together(stores: Stores) -> None:
    store, tracks = stores.store, stores.tracks
    await store.enqueue(_item("t1", "c1"), T0)
    kept, lost = make_track(member("a")), make_track(member("b"))
    async with store.atomic():
        await tracks.add(kept)
        await store.finish(TrackId("t1"))
        await store.outbox_add("have", {"track_id": kept.id})
    assert await tracks.get(kept.id) is not None and await store.queue_size() == 0
    await store.enqueue(_item("t2", "c2"), T0)
    with pytest.raises(RuntimeError):
        async with store.atomic():
            await tracks.add(lost)
            await store.finish(TrackId("t2"))
            await store.outbox_add("have", {"track_id": lost.id})
            await store.mark_seen("$inside")
            async with store.atomic():  # nested: part of the outer block
                await store.add_source(Cid("c2"), {"mxc": "mxc://hs/inside"})
            raise RuntimeError("crash before the commit")
    assert await tracks.get(lost.id) is None
    assert [i.track_id for i in await store.due(T0, 10)] == ["t2"]
    assert (await store.due(T0, 10))[0].sources == ()
    assert [c["track_id"] for _, _, c in await store.outbox_pending(10)] == [kept.id]
    assert not await store.seen("$inside")


async def test_the_earliest_event_time_of_a_track_is_kept(stores: Stores) -> None:
    track_id = TrackId("t-event-time")
    assert await stores.store.event_time(track_id) is None
    await stores.store.save_event_time(track_id, 2_000)
    await stores.store.save_event_time(track_id, 1_000)  # the same manifest seen again through an older event
    await stores.store.save_event_time(track_id, 3_000)
    assert await stores.store.event_time(track_id) == 1_000

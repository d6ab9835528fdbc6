"""Replication rules without a homeserver: instances wired through a fake room.

Every test runs twice: over the SQLite federation store and over the in-memory one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.clock import ManualClock
from core.errors import FetchError
from core.events.ports import EventLog
from core.federation.manifest import canonical_json, check_signature, manifest_for, sign
from core.federation.page_intake import TrackEvent
from core.federation.policy import FederationPolicy
from core.federation.ports import FederationStore
from core.federation.replication import (
    HAVE_EVENT,
    INSTANCE_EVENT,
    TOMBSTONE_EVENT,
    TRACK_EVENT,
    Replicator,
)
from core.model import TrackStatus, Verdict
from core.ports import TrackRepository
from storage.blob_pool import DiskBlobPool
from storage.identity import instance_id_for, load_or_create_identity, verify_signature
from storage.memory import MemoryTrackRepository
from storage.memory_events import MemoryEventLog
from storage.memory_federation import MemoryFederationStore
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.support.factories import make_track, member


class FakeRoom:
    """Events in order, and media by mxc id."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.media: dict[str, bytes] = {}


class FakeTransport:
    def __init__(self, room: FakeRoom, user: str) -> None:
        self.room, self.user = room, user

    async def upload(self, path: Path, media_type: str, size: int) -> str:
        mxc = f"mxc://hs/{len(self.room.media)}"
        self.room.media[mxc] = path.read_bytes()
        return mxc

    async def send(self, event_type: str, content: Mapping[str, Any]) -> str:
        event_id = f"$e{len(self.room.events)}"
        self.room.events.append(
            {"type": event_type, "sender": self.user, "event_id": event_id, "content": dict(content)}
        )
        return event_id

    async def put_state(self, event_type: str, state_key: str, content: Mapping[str, Any]) -> None:
        await self.send(event_type, content)
        self.room.events[-1]["state_key"] = state_key

    async def withdraw(self, track_id: str, cid: str, reason: str | None) -> None:
        """Nothing of ours to take back in this fake room (the Matrix adapter redacts on Synapse)."""


class FakeSources:
    def __init__(self, room: FakeRoom) -> None:
        self.room = room
        self.opened: list[str] = []

    async def open(self, source: Mapping[str, str], max_bytes: int) -> AsyncIterator[bytes]:
        mxc = source.get("mxc", "")
        self.opened.append(mxc)
        if mxc not in self.room.media:
            raise FetchError(f"{mxc}: 404")
        yield self.room.media[mxc]


class Node:
    def __init__(
        self,
        name: str,
        tmp: Path,
        room: FakeRoom,
        tracks: TrackRepository,
        store: FederationStore,
        policy: FederationPolicy,
        events: EventLog,
    ) -> None:
        self.identity = load_or_create_identity(tmp / name)
        self.user = f"@{name}:hs"
        self.tracks = tracks
        self.store = store
        self.pool = DiskBlobPool(tmp / name / "pool")
        self.sources = FakeSources(room)
        self.rep = Replicator(
            signer=self.identity,
            name=name,
            community="c",
            homepage="",
            user_id=self.user,
            store=store,
            tracks=tracks,
            pool=self.pool,
            clock=ManualClock(),
            policy=policy,
            sources=self.sources,
            verify=verify_signature,
            id_for_key=instance_id_for,
            events=events,
        )
        self.rep.transport = FakeTransport(room, self.user)
        self.room = room
        self.cursor = 0

    async def read(self) -> list[str]:
        outcomes = []
        for event in self.room.events[self.cursor :]:
            kind, sender, eid, content = event["type"], event["sender"], event["event_id"], event["content"]
            if kind == INSTANCE_EVENT:
                await self.rep.handle_instance(sender, event["state_key"], content)
            elif kind == TRACK_EVENT:
                outcomes.append(await self.rep.handle_track(eid, sender, content))
            elif kind == HAVE_EVENT:
                outcomes.append(await self.rep.handle_have(eid, sender, content))
            elif kind == TOMBSTONE_EVENT:
                outcomes.append(await self.rep.handle_tombstone(eid, sender, content))
        self.cursor = len(self.room.events)
        return outcomes


MakeNode = Callable[..., Awaitable[Node]]


@pytest.fixture(params=["sqlite", "memory"])
async def make_node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeNode]:
    """Nodes in one fake room, each with its own store: SQLite, or the in-memory one."""
    room = FakeRoom()
    dbs: list[Database] = []

    async def make(name: str, policy: FederationPolicy | None = None) -> Node:
        tracks: TrackRepository
        store: FederationStore
        events: EventLog
        if request.param == "sqlite":
            db = await Database.open(tmp_path / f"{name}.sqlite3")
            dbs.append(db)
            tracks, store, events = SqliteTrackRepository(db), SqliteFederationStore(db), SqliteEventLog(db)
        else:
            memory_tracks = MemoryTrackRepository()
            tracks, store, events = memory_tracks, MemoryFederationStore(memory_tracks), MemoryEventLog()
        node = Node(name, tmp_path, room, tracks, store, policy or FederationPolicy(), events)
        assert node.rep.transport is not None
        await node.rep.transport.put_state(INSTANCE_EVENT, node.user, node.rep.instance_state())
        return node

    yield make
    for db in dbs:
        await db.close()


@pytest.fixture
async def net(make_node: MakeNode) -> list[Node]:
    return [await make_node(name) for name in "abc"]


async def _local_track(node: Node, data: bytes, **changes: Any):
    source = node.pool.root / "src.bin"
    source.write_bytes(data)
    cid, size = await node.pool.put_file(source)
    track = replace(
        make_track(member("alice"), "Neon"), cid=cid, size=size, origin_instance=node.identity.instance_id, **changes
    )
    await node.tracks.add(track)
    return track


def _changed(value: Any) -> Any:
    """A different value of the same shape."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, "x"]
    if isinstance(value, dict):
        return {**value, "x": "y"}
    return "x"  # None


def test_signature_covers_every_field(tmp_path: Path) -> None:
    identity = load_or_create_identity(tmp_path)
    track = replace(make_track(member("alice")), origin_instance=identity.instance_id, tags=("night",))
    signed = sign(manifest_for(track, [{"mxc": "mxc://hs/1"}], "a"), identity)
    assert check_signature(signed, identity.public_key_b64, verify_signature)
    fields = [k for k in signed if k != "signature"]
    assert {"track_id", "cid", "size", "title", "sharer", "origin", "verdict", "sources"} <= set(fields)
    for field in fields:
        tampered = dict(signed, **{field: _changed(signed[field])})
        assert not check_signature(tampered, identity.public_key_b64, verify_signature), field
        dropped = {k: v for k, v in signed.items() if k != field}
        assert not check_signature(dropped, identity.public_key_b64, verify_signature), field
    for field in ("sharer", "origin"):  # nested members are covered too
        for key in signed[field]:
            tampered = dict(signed, **{field: dict(signed[field], **{key: _changed(signed[field][key])})})
            assert not check_signature(tampered, identity.public_key_b64, verify_signature), f"{field}.{key}"
    assert not check_signature(dict(signed, added="x"), identity.public_key_b64, verify_signature)
    other = load_or_create_identity(tmp_path / "other")
    assert not check_signature(signed, other.public_key_b64, verify_signature)  # someone else's key
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


async def test_track_replicates_and_takedown_follows(net) -> None:
    a, b, c = net
    track = await _local_track(a, b"audio bytes " * 1000)
    await a.rep.publish_track(track)
    assert await a.rep.flush_outbox() == 1
    for node in (b, c):
        assert await node.read() == ["queued"]
        assert await node.rep.run_queue() == 1
        copy = await node.tracks.get(track.id)
        assert copy is not None and copy.cid == track.cid and copy.origin_instance == a.identity.instance_id
        assert await node.pool.read(track.cid) == await a.pool.read(track.cid)
        assert copy.sharer.display_name == "Alice" and "alice" not in copy.sharer.user_id
    await b.rep.flush_outbox()  # b announces itself as a source
    await c.rep.flush_outbox()
    await a.rep.publish_tombstone(track, "asked by the author")
    await a.rep.flush_outbox()
    for node in (b, c):
        await node.read()
        gone = await node.tracks.get(track.id)
        assert gone is not None and gone.status is TrackStatus.TAKEN_DOWN
        assert not await node.pool.has(track.cid)


async def test_each_event_is_handled_once(net) -> None:
    a, b, _ = net
    track = await _local_track(a, b"once " * 1000)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    assert await b.read() == ["queued"]
    b.cursor = 0  # the room read again, as after a lost sync token
    assert await b.read() == ["already processed"]
    assert await b.store.queue_size() == 1
    assert await b.rep.run_queue() == 1
    assert await b.rep.run_queue() == 0
    assert len(b.sources.opened) == 1


async def test_forged_and_wrong_sender_ignored(net) -> None:
    a, b, _ = net
    track = await _local_track(a, b"x" * 5000)
    manifest = sign(manifest_for(track, [{"mxc": "mxc://hs/none"}], "a"), a.identity)
    forged = dict(manifest, title="forged")
    a.room.events.append({"type": TRACK_EVENT, "sender": a.user, "event_id": "$f1", "content": {"manifest": forged}})
    a.room.events.append(
        {"type": TRACK_EVENT, "sender": "@mallory:hs", "event_id": "$f2", "content": {"manifest": manifest}}
    )
    b_manifest = sign(manifest_for(replace(track, origin_instance=b.identity.instance_id), [], "b"), b.identity)
    a.room.events.append(
        {"type": TRACK_EVENT, "sender": a.user, "event_id": "$f3", "content": {"manifest": b_manifest}}
    )
    assert await b.read() == ["ignored: unverified"] * 3
    assert await b.rep.store.queue_size() == 0


async def test_bad_bytes_then_next_source(net) -> None:
    a, b, c = net
    track = await _local_track(a, b"real audio " * 500)
    a.room.media["mxc://hs/evil"] = b"not the audio"
    path = await a.pool.local_path(track.cid)
    a.room.media["mxc://hs/good"] = path.read_bytes()
    manifest = sign(
        manifest_for(track, [{"mxc": "mxc://hs/evil"}, {"mxc": "mxc://hs/gone"}, {"mxc": "mxc://hs/good"}], "a"),
        a.identity,
    )
    await a.rep.transport.send(TRACK_EVENT, {"manifest": manifest})
    await b.read()
    assert await b.rep.run_queue() == 1
    assert b.sources.opened == ["mxc://hs/evil", "mxc://hs/gone", "mxc://hs/good"]
    assert await b.pool.read(track.cid) == path.read_bytes()
    assert not list((b.pool.root / "tmp").iterdir())


async def test_holder_announcement_rescues_a_gone_origin(net) -> None:
    a, b, c = net
    track = await _local_track(a, b"survivor " * 700)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    (origin_mxc,) = a.room.media
    await b.read()
    assert await b.rep.run_queue() == 1
    assert await b.rep.flush_outbox() == 1  # b's have, with its own upload
    (holder_mxc,) = [m for m in a.room.media if m != origin_mxc]
    del a.room.media[origin_mxc]  # the origin's upload is gone
    assert await c.read() == ["queued", "source added"]
    assert await c.rep.run_queue() == 1
    assert c.sources.opened == [origin_mxc, holder_mxc]  # the origin failed; the holder served
    assert await c.pool.read(track.cid) == await a.pool.read(track.cid)
    assert await c.store.queue_size() == 0


async def test_without_a_holder_a_gone_origin_is_retried_later(net) -> None:
    a, b, _ = net
    track = await _local_track(a, b"lonely " * 700)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    a.room.media.clear()
    assert await b.read() == ["queued"]
    assert await b.rep.run_queue() == 0
    assert await b.tracks.get(track.id) is None
    (failing,) = await b.store.failures(10)
    assert failing.track_id == track.id and failing.attempts == 1 and "404" in (failing.last_error or "")
    assert await b.rep.run_queue() == 0  # backing off: not due again at once
    assert len(b.sources.opened) == 1


async def test_policy_refuses_and_quarantine_not_fetched(make_node: MakeNode) -> None:
    a = await make_node("a")
    strict = await make_node("strict", FederationPolicy(accept_verdicts=("verified",)))
    lofi_only = await make_node("lofi", FederationPolicy(accept_genres=("lofi",)))
    default = await make_node("default")
    declared = await _local_track(a, b"declared only " * 100)
    quarantined = await _local_track(a, b"needs review " * 100, verdict=Verdict.QUARANTINED)
    rejected = await _local_track(a, b"refused here " * 100, verdict=Verdict.REJECTED)
    for track in (declared, quarantined, rejected):
        await a.rep.publish_track(track)
    assert await a.rep.flush_outbox() == 3
    # an honest origin never publishes what is not public: only the declared track went out
    assert await default.read() == ["queued"]
    # a peer that does anyway is refused by each receiver's policy
    for track in (quarantined, rejected):
        path = await a.pool.local_path(track.cid)
        assert path is not None and a.rep.transport is not None
        mxc = await a.rep.transport.upload(path, track.media_type, track.size)
        await a.rep.transport.send(
            TRACK_EVENT, {"manifest": sign(manifest_for(track, [{"mxc": mxc}], "a"), a.identity)}
        )
    assert await strict.read() == [
        "refused by policy: verdict declared is not accepted",
        "refused by policy: verdict quarantined is not accepted",
        "refused by policy: verdict rejected is not accepted",
    ]
    assert await lofi_only.read() == [
        "refused by policy: genre synthwave is not accepted",
        "refused by policy: verdict quarantined is not accepted",
        "refused by policy: verdict rejected is not accepted",
    ]
    assert await default.read() == [
        "refused by policy: verdict quarantined is not accepted",
        "refused by policy: verdict rejected is not accepted",
    ]
    for node, fetched in ((strict, 0), (lofi_only, 0), (default, 1)):
        assert await node.rep.run_queue() == fetched
        assert await node.store.queue_size() == 0
    for node in (strict, lofi_only):
        assert node.sources.opened == []
        assert await node.tracks.count() == 0
    assert len(default.sources.opened) == 1  # only the declared track's bytes were fetched
    assert await default.tracks.get(declared.id) is not None
    for track in (quarantined, rejected):
        assert await default.tracks.get(track.id) is None
        assert not await default.pool.has(track.cid)


async def test_a_running_fetch_window_takes_in_tracks_queued_meanwhile(net) -> None:
    """A track queued while ``run_queue`` runs is fetched by the same call (history read as it goes)."""
    a, b, _ = net
    first = await _local_track(a, b"first " * 1000)
    await a.rep.publish_track(first)
    await a.rep.flush_outbox()
    assert await b.read() == ["queued"]
    second = await _local_track(a, b"second " * 1000)
    await a.rep.publish_track(second)
    await a.rep.flush_outbox()
    opened, release = asyncio.Event(), asyncio.Event()
    real_open = b.sources.open

    async def held(source: Mapping[str, str], max_bytes: int) -> AsyncIterator[bytes]:
        opened.set()
        await release.wait()
        async for chunk in real_open(source, max_bytes):
            yield chunk

    b.sources.open = held  # type: ignore[method-assign]
    fetching = asyncio.create_task(b.rep.run_queue(refill_s=0.0))
    await asyncio.wait_for(opened.wait(), 10)
    assert await b.read() == ["queued"]  # the second track arrives while the first is on its way
    release.set()
    assert await asyncio.wait_for(fetching, 10) == 2
    assert await b.tracks.get(second.id) is not None


async def test_a_page_of_track_events_has_the_outcomes_of_one_at_a_time(make_node: MakeNode) -> None:
    """``handle_tracks`` (a history page at once) decides every event as ``handle_track`` does."""
    a, one, page = [await make_node(name) for name in ("a", "one", "page")]
    first = await _local_track(a, b"first " * 1000)
    second = await _local_track(a, b"second " * 1000)
    await a.rep.publish_track(first)
    await a.rep.publish_track(second)
    await a.rep.flush_outbox()
    sent = [e for e in a.room.events if e["type"] == TRACK_EVENT]
    manifest = sent[0]["content"]["manifest"]
    extra = [
        dict(sent[0]),  # the same event twice in one page
        {"event_id": "$forged", "sender": a.user, "content": {"manifest": dict(manifest, title="forged")}},
        {"event_id": "$mallory", "sender": "@mallory:hs", "content": {"manifest": manifest}},
        {"event_id": "$again", "sender": a.user, "content": {"manifest": manifest}},  # a new event, same track
        {"event_id": "$bad", "sender": a.user, "content": {"manifest": "not a table"}},
        {"event_id": "$own", "sender": page.user, "content": {"manifest": manifest}},
        {  # signed by a, claiming another instance's track
            "event_id": "$elsewhere",
            "sender": a.user,
            "content": {
                "manifest": sign(manifest_for(replace(first, origin_instance="elsewhere"), [], "a"), a.identity)
            },
        },
    ]
    events = [*sent, *({"type": TRACK_EVENT, **e} for e in extra)]
    for node in (one, page):  # both know the peers first
        for event in a.room.events:
            if event["type"] == INSTANCE_EVENT:
                await node.rep.handle_instance(event["sender"], event["state_key"], event["content"])
    one_by_one = []
    for index, event in enumerate(events):
        sender = one.user if event["sender"] == page.user else event["sender"]  # "own" is each node's own
        one_by_one.append(await one.rep.handle_track(event["event_id"], sender, event["content"], 1000 - index))
    paged = await page.rep.handle_tracks(
        [TrackEvent(e["event_id"], e["sender"], e["content"], 1000 - i) for i, e in enumerate(events)]
    )
    assert paged == one_by_one
    assert paged == [
        "queued",
        "queued",
        "already processed",
        "ignored: unverified",
        "ignored: unverified",
        "already queued",
        "ignored: malformed",
        "own event",
        "ignored: origin does not match the signer",
    ]
    for track in (first, second):
        assert await page.store.manifest(track.id) == await one.store.manifest(track.id)
        assert await page.store.event_time(track.id) == await one.store.event_time(track.id)
    assert await page.store.event_time(first.id) == 1000 - 7  # the earliest of its events (its own claim counts)
    assert await page.store.queue_size() == await one.store.queue_size() == 2
    assert await page.rep.handle_tracks([TrackEvent(e["event_id"], e["sender"], e["content"]) for e in events]) == [
        "already processed"
    ] * len(events)
    assert await page.rep.run_queue() == 2
    assert await page.pool.read(second.cid) == await a.pool.read(second.cid)


async def test_a_page_that_fails_half_way_is_read_again_whole(make_node: MakeNode) -> None:
    """The page's writes commit together: a failure after "seen" leaves every event unread."""
    a, b = await make_node("a"), await make_node("b")
    tracks = [await _local_track(a, f"page {i} ".encode() * 500) for i in range(3)]
    for track in tracks:
        await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    for event in a.room.events:
        if event["type"] == INSTANCE_EVENT:
            await b.rep.handle_instance(event["sender"], event["state_key"], event["content"])
    page = [TrackEvent(e["event_id"], e["sender"], e["content"]) for e in a.room.events if e["type"] == TRACK_EVENT]
    real_enqueue = b.store.enqueue_many

    async def crash(items: Any) -> set[Any]:
        raise OSError("the process died here")

    b.store.enqueue_many = crash  # type: ignore[method-assign]
    with pytest.raises(OSError):
        await b.rep.handle_tracks(page)
    b.store.enqueue_many = real_enqueue  # type: ignore[method-assign]
    assert not await b.store.seen_many([e.event_id for e in page])
    assert await b.store.manifest(tracks[0].id) is None
    assert await b.rep.handle_tracks(page) == ["queued"] * 3
    assert await b.rep.run_queue() == 3


async def test_a_blob_waiting_for_the_disk_frees_its_download_slot(net) -> None:
    a, b, _ = net
    for n in range(5):
        await a.rep.publish_track(await _local_track(a, f"track {n} ".encode() * 1000))
    await a.rep.flush_outbox()
    assert await b.read() == ["queued"] * 5
    disk = asyncio.Event()
    waiting: list[bytes] = []
    real_put = b.pool.put_stream

    async def slow_disk(chunks: AsyncIterator[bytes], *args: Any, **kwargs: Any) -> Any:
        data = b"".join([chunk async for chunk in chunks])  # downloaded
        waiting.append(data)
        await disk.wait()  # the disk is busy

        async def again() -> AsyncIterator[bytes]:
            yield data

        return await real_put(again(), *args, **kwargs)

    b.pool.put_stream = slow_disk  # type: ignore[method-assign]
    fetching = asyncio.create_task(b.rep.run_queue(concurrency=2))
    for _ in range(200):  # bounded: the third download starts while two blobs wait for the disk
        if len(waiting) >= 3:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # a moment more: no fourth blob is taken in meanwhile
    assert len(waiting) == 3  # two download slots, and one blob more held (not an unbounded pile)
    disk.set()
    assert await asyncio.wait_for(fetching, 30) == 5
    assert await b.tracks.count() == 5

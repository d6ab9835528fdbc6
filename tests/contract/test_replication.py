"""Replication rules without a homeserver: two instances wired through a fake room."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core.clock import ManualClock
from core.errors import FetchError
from core.federation.manifest import canonical_json, check_signature, manifest_for, sign
from core.federation.policy import FederationPolicy
from core.federation.replication import (
    HAVE_EVENT,
    INSTANCE_EVENT,
    TOMBSTONE_EVENT,
    TRACK_EVENT,
    Replicator,
)
from core.model import TrackStatus, Verdict
from storage.blob_pool import DiskBlobPool
from storage.identity import instance_id_for, load_or_create_identity, verify_signature
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
        self.room.events.append({"type": event_type, "sender": self.user, "event_id": event_id,
                                 "content": dict(content)})
        return event_id

    async def put_state(self, event_type: str, state_key: str, content: Mapping[str, Any]) -> None:
        await self.send(event_type, content)
        self.room.events[-1]["state_key"] = state_key


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
    def __init__(self, name: str, tmp: Path, room: FakeRoom, db: Database) -> None:
        self.identity = load_or_create_identity(tmp / name)
        self.user = f"@{name}:hs"
        self.tracks = SqliteTrackRepository(db)
        self.pool = DiskBlobPool(tmp / name / "pool")
        self.sources = FakeSources(room)
        self.rep = Replicator(
            signer=self.identity, name=name, community="c", homepage="", user_id=self.user,
            store=SqliteFederationStore(db), tracks=self.tracks, pool=self.pool, clock=ManualClock(),
            policy=FederationPolicy(), sources=self.sources, verify=verify_signature,
            id_for_key=instance_id_for, events=SqliteEventLog(db))
        self.rep.transport = FakeTransport(room, self.user)
        self.room = room
        self.cursor = 0

    async def read(self) -> list[str]:
        outcomes = []
        for event in self.room.events[self.cursor:]:
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


@pytest.fixture
async def net(tmp_path: Path):
    room = FakeRoom()
    dbs = [await Database.open(tmp_path / f"{n}.sqlite3") for n in "abc"]
    nodes = [Node(n, tmp_path, room, db) for n, db in zip("abc", dbs, strict=True)]
    for node in nodes:
        await node.rep.transport.put_state(INSTANCE_EVENT, node.user, node.rep.instance_state())
    yield nodes
    for db in dbs:
        await db.close()


async def _local_track(node: Node, data: bytes, **changes: Any):
    source = node.pool.root / "src.bin"
    source.write_bytes(data)
    cid, size = await node.pool.put_file(source)
    track = replace(make_track(member("alice"), "Neon"), cid=cid, size=size,
                    origin_instance=node.identity.instance_id, **changes)
    await node.tracks.add(track)
    return track


def test_signature_covers_every_field(tmp_path: Path) -> None:
    identity = load_or_create_identity(tmp_path)
    track = replace(make_track(member("alice")), origin_instance=identity.instance_id)
    signed = sign(manifest_for(track, [{"mxc": "mxc://hs/1"}], "a"), identity)
    assert check_signature(signed, identity.public_key_b64, verify_signature)
    tampered = dict(signed, title="Other")
    assert not check_signature(tampered, identity.public_key_b64, verify_signature)
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


async def test_forged_and_wrong_sender_ignored(net) -> None:
    a, b, _ = net
    track = await _local_track(a, b"x" * 5000)
    manifest = sign(manifest_for(track, [{"mxc": "mxc://hs/none"}], "a"), a.identity)
    forged = dict(manifest, title="forged")
    a.room.events.append({"type": TRACK_EVENT, "sender": a.user, "event_id": "$f1", "content": {"manifest": forged}})
    a.room.events.append({"type": TRACK_EVENT, "sender": "@mallory:hs", "event_id": "$f2",
                          "content": {"manifest": manifest}})
    b_manifest = sign(manifest_for(replace(track, origin_instance=b.identity.instance_id), [], "b"), b.identity)
    a.room.events.append({"type": TRACK_EVENT, "sender": a.user, "event_id": "$f3",
                          "content": {"manifest": b_manifest}})
    assert await b.read() == ["ignored: unverified"] * 3
    assert await b.rep.store.queue_size() == 0


async def test_bad_bytes_then_next_source(net) -> None:
    a, b, c = net
    track = await _local_track(a, b"real audio " * 500)
    a.room.media["mxc://hs/evil"] = b"not the audio"
    path = await a.pool.local_path(track.cid)
    a.room.media["mxc://hs/good"] = path.read_bytes()
    manifest = sign(manifest_for(track, [{"mxc": "mxc://hs/evil"}, {"mxc": "mxc://hs/gone"},
                                         {"mxc": "mxc://hs/good"}], "a"), a.identity)
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
    await b.read()
    await b.rep.run_queue()
    await b.rep.flush_outbox()  # b's have with its own upload
    for mxc in [m for m in a.room.media if m == "mxc://hs/0"]:
        del a.room.media[mxc]  # the origin's upload is gone
    outcomes = await c.read()
    assert outcomes[0] == "queued"
    assert await c.rep.run_queue() == 1
    assert await c.pool.has(track.cid)


async def test_policy_refuses_and_quarantine_not_fetched(net) -> None:
    a, b, _ = net
    b.rep.policy = FederationPolicy(accept_verdicts=("verified",))
    track = await _local_track(a, b"declared only " * 100)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    assert (await b.read())[0].startswith("refused by policy: verdict declared")
    assert track.verdict is Verdict.DECLARED

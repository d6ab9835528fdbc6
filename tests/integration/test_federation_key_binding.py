"""Who may speak for an instance key: only an account the key itself vouched for.

The instance event carries a proof (the key's signature over the sender's Matrix id), so
an account that copies a key first is ignored and the key's owner is not locked out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from core.federation.peer_registry import key_proof, rotation
from core.federation.policy import FederationPolicy
from core.federation.replication import INSTANCE_EVENT
from storage.identity import load_or_create_identity
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.contract.test_replication import FakeRoom, Node, _local_track

MakeNode = Callable[[str], Awaitable[Node]]


@pytest.fixture
async def room_and_nodes(tmp_path: Path) -> AsyncIterator[tuple[FakeRoom, MakeNode]]:
    room = FakeRoom()
    dbs: list[Database] = []

    async def make(name: str) -> Node:
        db = await Database.open(tmp_path / f"{name}.sqlite3")
        dbs.append(db)
        return Node(
            name,
            tmp_path,
            room,
            SqliteTrackRepository(db),
            SqliteFederationStore(db),
            FederationPolicy(),
            SqliteEventLog(db),
        )

    yield room, make
    for db in dbs:
        await db.close()


def _instance_event(sender: str, content: dict[str, object], event_id: str) -> dict[str, object]:
    return {"type": INSTANCE_EVENT, "sender": sender, "state_key": sender, "event_id": event_id, "content": content}


async def test_a_copied_public_key_cannot_lock_its_owner_out(room_and_nodes: tuple[FakeRoom, MakeNode]) -> None:
    room, make = room_and_nodes
    a, b = await make("a"), await make("b")
    room.events.append(_instance_event("@mallory:hs", a.rep.instance_state(), "$squat"))  # copied, first
    assert a.rep.transport is not None
    await a.rep.transport.put_state(INSTANCE_EVENT, a.user, a.rep.instance_state())
    await b.read()
    assert b.rep.rejected_events == 1
    assert (await b.store.peer_by_instance(a.identity.instance_id)).user_id == a.user  # type: ignore[union-attr]
    assert await b.store.peer_by_user("@mallory:hs") is None
    track = await _local_track(a, b"the owner's track " * 200)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    assert await b.read() == ["queued"]


async def test_a_key_event_without_a_valid_proof_binds_nothing(
    room_and_nodes: tuple[FakeRoom, MakeNode], tmp_path: Path
) -> None:
    room, make = room_and_nodes
    b = await make("b")
    key = load_or_create_identity(tmp_path / "someone")
    content = {"instance": key.instance_id, "public_key": key.public_key_b64, "name": "x"}
    mallory_key = load_or_create_identity(tmp_path / "mallory")
    for n, proof in enumerate(
        (
            None,  # an instance of before the proof, or a copy without it
            "not base64 !",
            key_proof(key, "@owner:hs"),  # the owner's proof, replayed by another account
            key_proof(mallory_key, "@mallory:hs"),  # a proof by another key
        )
    ):
        sent = dict(content) if proof is None else dict(content, proof=proof)
        room.events.append(_instance_event("@mallory:hs", sent, f"$bad{n}"))
    room.events.append(_instance_event("@owner:hs", dict(content, proof=key_proof(key, "@owner:hs")), "$good"))
    await b.read()
    assert b.rep.rejected_events == 4
    peer = await b.store.peer_by_instance(key.instance_id)
    assert peer is not None and peer.user_id == "@owner:hs"


async def _next_key_of(node: Node, room: FakeRoom, tmp_path: Path, dbs: list[Database]) -> Node:
    """The same instance (same account) after it made itself a new key."""
    db = await Database.open(tmp_path / "next" / f"{node.rep.name}.sqlite3")
    dbs.append(db)
    tracks, store, events = SqliteTrackRepository(db), SqliteFederationStore(db), SqliteEventLog(db)
    return Node(node.rep.name, tmp_path / "next", room, tracks, store, FederationPolicy(), events)


async def test_an_instance_rotates_its_key_with_the_old_key_signing(
    room_and_nodes: tuple[FakeRoom, MakeNode], tmp_path: Path
) -> None:
    room, make = room_and_nodes
    a, b = await make("a"), await make("b")
    assert a.rep.transport is not None
    await a.rep.transport.put_state(INSTANCE_EVENT, a.user, a.rep.instance_state())
    await a.rep.publish_track(await _local_track(a, b"before the rotation " * 200))
    await a.rep.flush_outbox()
    assert await b.read() == ["queued"]
    dbs: list[Database] = []
    try:
        rotated = await _next_key_of(a, room, tmp_path, dbs)
        assert rotated.user == a.user and rotated.identity.public_key_b64 != a.identity.public_key_b64
        assert rotated.rep.transport is not None
        await rotated.rep.transport.put_state(
            INSTANCE_EVENT, a.user, rotated.rep.instance_state(rotated_from=a.identity)
        )
        await b.read()
        assert b.rep.rejected_events == 0
        bound = await b.store.peer_by_user(a.user)
        assert bound is not None and bound.public_key == rotated.identity.public_key_b64
        assert await b.store.peer_by_instance(a.identity.instance_id) is not None  # the old id stays claimed
        await rotated.rep.publish_track(await _local_track(rotated, b"after the rotation " * 200))
        await rotated.rep.flush_outbox()
        assert await b.read() == ["queued"]  # signed by the new key: taken
        await a.rep.publish_track(await _local_track(a, b"signed by the retired key " * 200))
        await a.rep.flush_outbox()
        assert "queued" not in await b.read() and b.rep.rejected_events == 1  # the old key no longer speaks
        # the old instance event read again (a replayed state event) does not roll the binding back
        room.events.append(_instance_event(a.user, a.rep.instance_state(), "$stale"))
        await b.read()
        bound = await b.store.peer_by_user(a.user)
        assert bound is not None and bound.public_key == rotated.identity.public_key_b64
    finally:
        for db in dbs:
            await db.close()


async def test_a_rotation_not_signed_by_the_current_key_is_refused(
    room_and_nodes: tuple[FakeRoom, MakeNode], tmp_path: Path
) -> None:
    room, make = room_and_nodes
    a, b = await make("a"), await make("b")
    assert a.rep.transport is not None
    await a.rep.transport.put_state(INSTANCE_EVENT, a.user, a.rep.instance_state())
    await b.read()
    # whoever holds a's account (its homeserver's admin) makes a key of their own
    stolen = load_or_create_identity(tmp_path / "admin")
    other = load_or_create_identity(tmp_path / "other")
    content = {
        "instance": stolen.instance_id,
        "public_key": stolen.public_key_b64,
        "name": "a",
        "proof": key_proof(stolen, a.user),
    }
    forged = rotation(other, stolen.public_key_b64, a.user)
    for n, claimed in enumerate(
        (
            None,  # no rotation at all
            forged,  # signed by a key that is not a's
            dict(forged, previous_key=a.identity.public_key_b64),  # names a's key, signed by another
            rotation(stolen, stolen.public_key_b64, a.user),  # signed by the new key itself
        )
    ):
        sent = dict(content) if claimed is None else dict(content, rotation=claimed)
        room.events.append(_instance_event(a.user, sent, f"$rot{n}"))
    await b.read()
    assert b.rep.rejected_events == 4
    bound = await b.store.peer_by_user(a.user)
    assert bound is not None and bound.public_key == a.identity.public_key_b64
    await a.rep.publish_track(await _local_track(a, b"still a's key " * 200))
    await a.rep.flush_outbox()
    assert await b.read() == ["queued"]

"""Who may speak for an instance key: only an account the key itself vouched for.

The instance event carries a proof (the key's signature over the sender's Matrix id), so
an account that copies a key first is ignored and the key's owner is not locked out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from core.federation.peer_registry import key_proof
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

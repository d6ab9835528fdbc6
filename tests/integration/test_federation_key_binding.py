"""Who may speak for an instance key: the first account seen with it, today.

Documents an open hole of the threat model (docs/RELIABILITY.md): the instance event
carries no proof that its sender holds the private key, so an account that copies a
key first locks the key's owner out of every instance that saw the copy first.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.federation.replication import INSTANCE_EVENT
from storage.sqlite.database import Database
from tests.contract.test_replication import FakeRoom, Node, _local_track


@pytest.mark.xfail(strict=True, reason="open: org.wavepool.instance has no proof of possession of the key")
async def test_a_copied_public_key_cannot_lock_its_owner_out(tmp_path: Path) -> None:
    room = FakeRoom()
    dbs = [await Database.open(tmp_path / f"{n}.sqlite3") for n in "ab"]
    try:
        a, b = (Node(n, tmp_path, room, db) for n, db in zip("ab", dbs, strict=True))
        room.events.append(
            {
                "type": INSTANCE_EVENT,
                "sender": "@mallory:hs",
                "state_key": "@mallory:hs",
                "event_id": "$squat",
                "content": a.rep.instance_state(),
            }
        )
        await a.rep.transport.put_state(INSTANCE_EVENT, a.user, a.rep.instance_state())
        await b.read()
        track = await _local_track(a, b"the owner's track " * 200)
        await a.rep.publish_track(track)
        await a.rep.flush_outbox()
        assert await b.read() == ["queued"]
    finally:
        for db in dbs:
            await db.close()

"""A peer reading through its sync filter (uploaded to a real Synapse) still sees every event of
its federation rooms: live, and after a gap longer than one sync's timeline."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bots.federation.room_reader import RoomReader
from storage.sqlite.federation_store import SqliteFederationStore
from tests.support.federation import federation_room as make_federation_room
from tests.support.federation import publish_fast
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, running
from tests.support.waiting import eventually

GAP = 130  # more than the 100 events a filtered sync's timeline holds: the sync is limited


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse"))
    yield server
    server.stop()


def _reader(run: Running) -> RoomReader:
    runner = run.parts.federation.runner
    assert runner is not None
    return runner.reader


async def _holds(run: Running, ids: list[str], what: str) -> None:
    async def there() -> bool:
        return all([await run.instance.app.tracks.get(i) is not None for i in ids])  # type: ignore[arg-type]

    await eventually(there, 90, what)


async def test_a_filtered_peer_sees_every_event_live_and_after_a_gap(synapse: Homeserver, tmp_path: Path) -> None:
    room, configs, (_owner, owner_token) = make_federation_room(synapse, tmp_path, "ac")
    # Another room the peer's account is in, with chatter: the filter leaves it out.
    c_token = tomllib.loads(configs["c"].read_text())["matrix"]["access_token"]
    chatter = synapse.create_room(owner_token, name="chatter")
    synapse.join(c_token, chatter)
    async with running(configs["a"]) as a:
        async with running(configs["c"]) as c:
            live = await publish_fast(a, 1, tmp_path)
            await _holds(c, live, "the live track on C")
            filters = _reader(c)._filters
            assert filters, "C syncs through an uploaded filter"
        ids = await publish_fast(a, GAP, tmp_path)  # C is down: its next sync has a gap
        for index in range(5):  # events the reader does not read, in its room and another
            synapse.text(owner_token, room, f"chat {index}")
            synapse.text(owner_token, chatter, f"elsewhere {index}")

        async def all_sent() -> bool:
            return not await SqliteFederationStore(a.instance.db).outbox_pending(1)

        await eventually(all_sent, 120, "A's outbox to drain")
        async with running(configs["c"]) as c:
            await _holds(c, ids, "C to read the gap")
            after = await publish_fast(a, 1, tmp_path)
            await _holds(c, after, "a live track after the gap")
            assert await c.instance.app.tracks.count() == 1 + GAP + 1
            assert _reader(c)._filters, "still through the filter"
            seen = await c.instance.db.fetchone("SELECT count(*) FROM fed_seen")
            assert seen[0] >= 1 + GAP + 1
            assert c.parts.federation.runner.replicator.rejected_events == 0  # type: ignore[union-attr]

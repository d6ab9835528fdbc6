"""Federation rooms as an operator names them: an alias and the room id it names are one room."""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import pytest

from bots.federation.part import ROOM_EVENT_LEVELS
from core.federation.replication import TRACK_EVENT
from tests.support.federation import publish_fast
from tests.support.homeserver import Homeserver
from tests.support.instances import eventually, running, write_config


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-rooms"))
    yield server
    server.stop()


async def test_alias_and_id_of_one_room_publish_once(synapse: Homeserver, tmp_path: Path) -> None:
    tag = os.urandom(3).hex()
    owner, owner_token = synapse.register(f"owner{tag}")
    room = synapse.create_room(owner_token, name="federation", events=ROOM_EVENT_LEVELS)
    alias = f"#fed{tag}:localhost"
    synapse.call(
        "PUT", f"/_matrix/client/v3/directory/room/{urllib.parse.quote(alias)}", owner_token, {"room_id": room}
    )
    user, token = synapse.register(f"inst{tag}")
    config = write_config(
        tmp_path / "a.toml",
        tmp_path / "a",
        http={"port": 0},
        matrix={"homeserver": synapse.url, "user_id": user, "access_token": token},
        federation={"rooms": [alias, room]},
    )
    async with running(config) as a:
        runner = a.parts.federation.runner
        assert runner is not None and runner.transport.rooms == [room]
        (track_id,) = await publish_fast(a, 1, tmp_path)

        def track_events() -> list[dict[str, object]]:
            return [e for e in synapse.messages(owner_token, room, 100) if e["type"] == TRACK_EVENT]

        async def published() -> bool:
            return bool(track_events())

        await eventually(published, 30, "the track event")
        await eventually(lambda: _settled(a), 30, "the outbox to empty")
        assert len(track_events()) == 1, track_events()
        assert track_id


async def _settled(run) -> bool:  # type: ignore[no-untyped-def]
    return not await run.parts.federation.runner.replicator.store.outbox_pending(10)


async def test_a_room_alias_that_does_not_exist_yet_is_joined_once_it_does(synapse: Homeserver, tmp_path: Path) -> None:
    tag = os.urandom(3).hex()
    owner, owner_token = synapse.register(f"later{tag}")
    alias = f"#later{tag}:localhost"
    user, token = synapse.register(f"inst{tag}")
    config = write_config(
        tmp_path / "a.toml",
        tmp_path / "a",
        http={"port": 0},
        matrix={"homeserver": synapse.url, "user_id": user, "access_token": token},
        federation={"rooms": [alias]},
    )
    async with running(config) as a:
        runner = a.parts.federation.runner
        assert runner is not None and runner.waiting == [alias] and runner.transport.rooms == []
        assert a.instance.app.federation is not None
        status = await a.instance.app.federation.status()
        assert status["waiting"] == [alias]
        assert "waiting" in a.parts.federation.health() or "joining" in a.parts.federation.health()
        room = synapse.create_room(owner_token, name="federation later", events=ROOM_EVENT_LEVELS)
        synapse.call(
            "PUT", f"/_matrix/client/v3/directory/room/{urllib.parse.quote(alias)}", owner_token, {"room_id": room}
        )

        async def joined() -> bool:  # in the room, its key published there
            return runner.transport.rooms == [room] and not runner.waiting and a.parts.federation.health() == "ok"

        await eventually(joined, 60, "the room to be joined once its alias exists")
        assert (await a.instance.app.federation.status())["waiting"] == []

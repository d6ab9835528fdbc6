"""Federation as an operator meets it, on a real Synapse: one login and one sync per
instance, `federation create` and `join` acting at once, late joiners through a snapshot,
and `federation status`."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import stat
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bots.cli.output import Output
from bots.cli.parser import parse_args
from bots.cli.subcommands import run_subcommand
from bots.federation.matrix_api import MatrixApi
from bots.federation.matrix_session import SESSION_FILE
from bots.federation.room_setup import ROOM_EVENT_LEVELS
from bots.federation.rooms import federation_rooms
from bots.runtime import open_instance
from config import load_settings
from core.errors import UsageError
from core.federation.ports import QueueItem
from core.federation.replication import INSTANCE_EVENT, SNAPSHOT_STATE
from core.model import Cid, Sharer, TrackId, TrackStatus
from storage.sqlite.federation_store import SqliteFederationStore
from tests.support.federation import publish_fast
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, eventually, running, write_config

MOD = Sharer("matrix", "@mod:localhost", "Mod")


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-ops"))
    yield server
    server.stop()


def _tag() -> str:
    return os.urandom(3).hex()


async def _cli(instance: Any, *argv: str) -> str:
    """A subcommand as the control socket runs it inside the instance (or in-process)."""
    io = Output(buffered=True)
    rc = await run_subcommand(parse_args(list(argv)), instance, io)
    assert rc == 0, (io.stdout, io.stderr)
    return "".join(io.stdout)


def _devices(synapse: Homeserver, token: str) -> list[str]:
    return [d["device_id"] for d in synapse.call("GET", "/_matrix/client/v3/devices", token)["devices"]]


async def _chat_ready(run: Running) -> None:
    matrix = run.parts.matrix
    assert matrix is not None

    async def ready() -> bool:
        return matrix.ready()

    await eventually(ready, 30, "the chat bot to sync")


async def test_starts_and_commands_share_one_kept_login(synapse: Homeserver, tmp_path: Path) -> None:
    tag = _tag()
    owner, owner_token = synapse.register(f"own{tag}")
    room = synapse.create_room(owner_token, name="fed", events=ROOM_EVENT_LEVELS)
    password = "pw-" + tag
    user, first_token = synapse.register(f"bot{tag}", password=password)
    synapse.call("POST", "/_matrix/client/v3/logout", first_token)  # registration's own device: gone
    config = write_config(
        tmp_path / "a.toml",
        tmp_path / "a",
        http={"port": 0},
        matrix={"homeserver": synapse.url, "user_id": user, "password": password},
        federation={"rooms": [room]},
    )
    for _ in range(2):  # chat bot and federation on: one login between them, kept
        async with running(config, parts=("matrix", "federation")) as run:
            await _chat_ready(run)
    async with running(config, parts=("federation",)):
        pass
    async with open_instance(load_settings(config, environ={})) as instance:  # no instance runs: in-process
        assert "joined" in await _cli(instance, "federation", "join", room)
    kept_file = tmp_path / "a" / SESSION_FILE
    kept = json.loads(kept_file.read_text())
    assert stat.S_IMODE(kept_file.stat().st_mode) == 0o600
    assert _devices(synapse, kept["access_token"]) == [kept["device_id"]]

    # The homeserver forgets the token (an admin logged the device out): the next start logs
    # in again, as the same device.
    synapse.call("POST", "/_matrix/client/v3/logout", kept["access_token"])
    async with running(config, parts=("matrix", "federation")) as run:
        await _chat_ready(run)
    again = json.loads(kept_file.read_text())
    assert again["access_token"] != kept["access_token"] and again["device_id"] == kept["device_id"]
    assert _devices(synapse, again["access_token"]) == [kept["device_id"]]


async def test_create_then_two_instances_federate_through_the_room(
    synapse: Homeserver, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tag = _tag()
    configs = {}
    users = {}
    for name in "ab":
        users[name], token = synapse.register(f"{name}{tag}")
        configs[name] = write_config(
            tmp_path / f"{name}.toml",
            tmp_path / name,
            http={"port": 0},
            matrix={"homeserver": synapse.url, "user_id": users[name], "access_token": token},
        )
    caplog.set_level(logging.INFO, logger="core.federation")
    async with running(configs["a"]) as a, running(configs["b"]) as b:
        alias = f"#wavepool{tag}:localhost"
        out = await _cli(a.instance, "federation", "create", alias, "--invite", users["b"])
        assert f"created {alias}" in out and "tell each peer" in out and "running instance now" in out
        runner_a = a.parts.federation.runner
        (room_id,) = runner_a.transport.rooms  # the creator federates through it at once
        token_a = runner_a.api._token
        state = {
            (e["type"], e["state_key"]): e["content"]
            for e in synapse.call("GET", f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/state", token_a)
        }
        assert state[("m.room.history_visibility", "")]["history_visibility"] == "shared"
        assert state[("m.room.join_rules", "")]["join_rule"] == "invite"
        levels = state[("m.room.power_levels", "")]
        assert levels["events"][INSTANCE_EVENT] == 0 and levels["events"][SNAPSHOT_STATE] == 0
        assert (INSTANCE_EVENT, users["a"]) in state

        out = await _cli(b.instance, "federation", "join", alias)  # by alias, in the running instance
        assert f"joined {room_id}; replicating it now" in out
        assert b.parts.federation.runner.transport.rooms == [room_id]
        (track_id,) = await publish_fast(a, 1, tmp_path)

        def replicated() -> list[str]:  # logged once the track is committed on b
            return [
                r.getMessage().split()[1]
                for r in caplog.records
                if r.levelno == logging.INFO and r.getMessage().startswith("replicated ")
            ]

        async def arrived() -> bool:
            return bool(replicated())

        await eventually(arrived, 60, "a's track on b, through the room `create` made")
        assert replicated() == [track_id]  # one INFO line for it
        assert await b.instance.app.tracks.get(track_id) is not None

        # Joining again by id is the same room: nothing doubles.
        await _cli(b.instance, "federation", "join", room_id)
        assert b.parts.federation.runner.transport.rooms == [room_id]
        # Leaving by alias leaves the room under both names, at once and for the next start.
        assert f"left {room_id}" in await _cli(b.instance, "federation", "leave", alias)
        assert b.parts.federation.runner.transport.rooms == []
        assert await federation_rooms(b.instance) == []


async def test_a_late_joiner_of_a_small_room_uses_the_snapshot_and_matches_a_history_reader(
    synapse: Homeserver, tmp_path: Path
) -> None:
    tag = _tag()
    _owner, owner_token = synapse.register(f"own{tag}")
    room = synapse.create_room(owner_token, name="small", events=ROOM_EVENT_LEVELS)
    configs = {}
    for name in "abc":
        user, token = synapse.register(f"{name}{tag}")
        configs[name] = write_config(
            tmp_path / f"{name}.toml",
            tmp_path / name,
            http={"port": 0},
            matrix={"homeserver": synapse.url, "user_id": user, "access_token": token},
            federation={"rooms": [room]},
        )
    async with running(configs["a"]) as a:
        ids = await publish_fast(a, 3, tmp_path)
        await a.instance.app.moderation.takedown(ids[0], MOD, "asked by the author")
        store = a.parts.federation.runner.replicator.store

        async def sent() -> bool:
            return not await store.outbox_pending(10) and len(await store.outbox_parked(10)) == 0

        await eventually(sent, 60, "a's tracks and tombstone published")
        async with running(configs["b"]):  # no snapshot yet: reads the history

            async def b_has_both() -> bool:  # committed: read through a connection of its own
                return _active(tmp_path / "b") == set(ids[1:])

            await eventually(b_has_both, 60, "b to replicate a's active tracks")
        content = await a.parts.federation.runner.publish_snapshot()
        assert content["count"] == 2
        async with running(configs["c"]) as c:  # a snapshot newer than anything c read: used

            async def c_has_both() -> bool:
                return _active(tmp_path / "c") == set(ids[1:])

            await eventually(c_has_both, 60, "c to replicate a's active tracks")
            c_status = json.loads(await _cli(c.instance, "federation", "status", "--json"))
    async with open_instance(load_settings(configs["b"], environ={})) as b_instance:
        b_status = json.loads(await _cli(b_instance, "federation", "status", "--json"))
    assert b_status["rooms"][0]["read_by"] == {"path": "history"}
    assert c_status["rooms"][0]["read_by"]["path"] == "snapshot"
    assert c_status["rooms"][0]["read_by"]["cid"] == content["cid"]
    assert _active(tmp_path / "c") == _active(tmp_path / "b") == set(ids[1:])


def _active(data_dir: Path) -> set[str]:
    """Active tracks as committed in an instance's database."""
    with contextlib.closing(sqlite3.connect(data_dir / "wavepool.sqlite3")) as db:
        rows = db.execute("SELECT id FROM tracks WHERE status = ?", (TrackStatus.ACTIVE.value,)).fetchall()
    return {r[0] for r in rows}


async def test_chat_bot_and_federation_share_one_sync(
    synapse: Homeserver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_syncs: list[str] = []
    real_sync = MatrixApi.sync

    async def counted(self: MatrixApi, *args: Any, **kwargs: Any) -> dict[str, Any]:
        own_syncs.append(self.user_id)
        return await real_sync(self, *args, **kwargs)

    monkeypatch.setattr(MatrixApi, "sync", counted)
    tag = _tag()
    _owner, owner_token = synapse.register(f"own{tag}")
    room = synapse.create_room(owner_token, name="one sync", events=ROOM_EVENT_LEVELS)
    configs, users = {}, {}
    for name in "ab":
        users[name], token = synapse.register(f"{name}{tag}")
        configs[name] = write_config(
            tmp_path / f"{name}.toml",
            tmp_path / name,
            http={"port": 0},
            matrix={"homeserver": synapse.url, "user_id": users[name], "access_token": token},
            federation={"rooms": [room]},
        )
    async with running(configs["a"], parts=("matrix", "federation")) as a, running(configs["b"]) as b:
        await _chat_ready(a)
        assert a.parts.federation.runner.shared_sync and not b.parts.federation.runner.shared_sync
        (from_b,) = await publish_fast(b, 1, tmp_path / "b")
        (from_a,) = await publish_fast(a, 1, tmp_path / "a")

        async def both_ways() -> bool:
            return (
                await a.instance.app.tracks.get(from_b) is not None
                and await b.instance.app.tracks.get(from_a) is not None
            )

        await eventually(both_ways, 60, "tracks both ways with a reading through its chat sync")
    assert users["b"] in own_syncs and users["a"] not in own_syncs  # a never ran a second sync loop


async def test_status_shows_rooms_queue_parked_items_and_rate_limits(synapse: Homeserver, tmp_path: Path) -> None:
    tag = _tag()
    _owner, owner_token = synapse.register(f"own{tag}")
    room = synapse.create_room(owner_token, name="status", events=ROOM_EVENT_LEVELS)
    user, token = synapse.register(f"adm{tag}", admin=True)
    config = write_config(
        tmp_path / "a.toml",
        tmp_path / "a",
        http={"port": 0},
        matrix={"homeserver": synapse.url, "user_id": user, "access_token": token},
        federation={"rooms": [room, f"#nothere{tag}:localhost"]},
    )
    async with running(config) as a:
        store = a.parts.federation.runner.replicator.store
        item = await store.outbox_add("digest", {"title": "t", "data": {}})
        await store.outbox_park(item, "HTTP 413: too large")

        async def read() -> bool:
            return await a.instance.state.get("federation", f"room:{room}:path") is not None

        await eventually(read, 30, "the room's first read")

        async def caught_up() -> bool:
            report = json.loads(await _cli(a.instance, "federation", "status", "--json"))
            return [r.get("events_behind") for r in report["rooms"] if r["joined"]] == [0]

        await eventually(caught_up, 30, "status to count no federation event behind")
        out = await _cli(a.instance, "federation", "status")
        assert "0 events behind" in out
        assert f"room {room}: joined" in out and "first read by history" in out
        assert f"#nothere{tag}:localhost: WAITING" in out
        assert "fetch queue: 0 waiting, 0 retrying, 0 parked" in out
        assert f"parked outbox {item} (digest): HTTP 413: too large" in out
        assert "rate limits: NOT exempt" in out and "override_ratelimit" in out
        synapse.call(
            "POST",
            f"/_synapse/admin/v1/users/{urllib.parse.quote(user)}/override_ratelimit",
            token,
            {"messages_per_second": 0, "burst_count": 0},
        )
        assert "rate limits: exempt" in await _cli(a.instance, "federation", "status")
        assert "back in line" in await _cli(a.instance, "federation", "retry", str(item))

        async def sent() -> bool:
            return not await store.outbox_pending(10) and not await store.outbox_parked(10)

        await eventually(sent, 30, "the retried digest to go out")


async def test_a_revoked_token_is_renewed_once_for_both_parts(synapse: Homeserver, tmp_path: Path) -> None:
    tag = _tag()
    _owner, owner_token = synapse.register(f"own{tag}")
    room = synapse.create_room(owner_token, name="renew", events=ROOM_EVENT_LEVELS)
    password = "pw-" + tag
    user, first_token = synapse.register(f"re{tag}", password=password)
    synapse.call("POST", "/_matrix/client/v3/logout", first_token)
    peer, peer_token = synapse.register(f"peer{tag}")
    configs = {
        "a": write_config(
            tmp_path / "a.toml",
            tmp_path / "a",
            http={"port": 0},
            matrix={"homeserver": synapse.url, "user_id": user, "password": password},
            federation={"rooms": [room]},
        ),
        "b": write_config(
            tmp_path / "b.toml",
            tmp_path / "b",
            http={"port": 0},
            matrix={"homeserver": synapse.url, "user_id": peer, "access_token": peer_token},
            federation={"rooms": [room]},
        ),
    }
    async with running(configs["a"], parts=("matrix", "federation")) as a, running(configs["b"]) as b:
        await _chat_ready(a)
        kept = json.loads((tmp_path / "a" / SESSION_FILE).read_text())
        synapse.call("POST", "/_matrix/client/v3/logout", kept["access_token"])  # revoked while running
        (from_b,) = await publish_fast(b, 1, tmp_path / "b")
        (from_a,) = await publish_fast(a, 1, tmp_path / "a")

        async def both_ways() -> bool:
            return (
                await a.instance.app.tracks.get(from_b) is not None
                and await b.instance.app.tracks.get(from_a) is not None
            )

        await eventually(both_ways, 60, "replication both ways after the token was revoked")
    again = json.loads((tmp_path / "a" / SESSION_FILE).read_text())
    assert again["access_token"] != kept["access_token"] and again["device_id"] == kept["device_id"]
    assert _devices(synapse, again["access_token"]) == [kept["device_id"]]


async def test_retry_and_drop_parked_fetches_by_track_or_cid_prefix(tmp_path: Path) -> None:
    config = write_config(tmp_path / "a.toml", tmp_path / "a", http={"port": 0})
    async with open_instance(load_settings(config, environ={})) as instance:
        store = SqliteFederationStore(instance.db)
        for track_id, cid in (("trk-one", "bafyone"), ("trk-two", "bafytwo")):
            await store.enqueue(QueueItem(TrackId(track_id), Cid(cid), {}, (), 0), datetime.now(UTC))
            await store.park_fetch(TrackId(track_id), "every source failed")
        status = await _cli(instance, "federation", "status")
        assert "parked fetch trk-one (bafyone): every source failed" in status and "0 waiting" in status
        assert "back in line" in await _cli(instance, "federation", "retry", "bafyo")  # a CID prefix
        assert await store.queue_counts() == {"waiting": 1, "retrying": 0, "parked": 1}
        assert "dropped" in await _cli(instance, "federation", "drop", "trk-two")
        assert await store.queue_counts() == {"waiting": 1, "retrying": 0, "parked": 0}
        io = Output(buffered=True)
        with pytest.raises(UsageError, match="nothing parked"):
            await run_subcommand(parse_args(["federation", "retry", "trk-"]), instance, io)

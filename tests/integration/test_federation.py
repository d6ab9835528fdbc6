"""Federation through a real Synapse: three instances, one federation room."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path

import pytest

from bots.federation.part import ROOM_EVENT_LEVELS
from bots.federation.room_reader import TYPES
from core.federation.manifest import manifest_for, sign
from core.federation.replication import TRACK_EVENT
from core.model import Declaration, Sharer, TrackStatus
from core.views.digest import digest_reply
from storage.sqlite.federation_store import SqliteFederationStore
from tests.support.audio import make_mp3
from tests.support.federation import federation_room as make_federation_room
from tests.support.federation import publish_fast
from tests.support.homeserver import Homeserver
from tests.support.instances import running, write_config
from tests.support.waiting import eventually

ALICE = Sharer("matrix", "@alice:localhost", "Alice")


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse"))
    yield server
    server.stop()


@pytest.fixture
def federation_room(synapse: Homeserver, tmp_path: Path):
    """A room and three instance accounts (a, b, c) with their configs."""
    return make_federation_room(synapse, tmp_path, "abc")


async def _share(run, path: Path):
    reply = await run.instance.app.share.share_file(path, ALICE, Declaration(generator="suno"), filename=path.name)
    return reply.track


async def test_track_replicates_to_peers_and_takedown_follows(
    federation_room, synapse: Homeserver, tmp_path: Path
) -> None:
    room, configs, (_owner, owner_token) = federation_room
    async with running(configs["a"]) as a, running(configs["b"]) as b, running(configs["c"]) as c:
        track = await _share(a, make_mp3(tmp_path / "neon.mp3", 3, 5))
        original = await a.instance.app.pool.read(track.cid)
        for peer in (b, c):
            app = peer.instance.app

            async def arrived(app=app) -> bool:
                return await app.tracks.get(track.id) is not None

            await eventually(arrived, 30, "the track on a peer")
            assert await app.pool.read(track.cid) == original
            copy = await app.tracks.get(track.id)
            assert copy.origin_instance == a.instance.identity.instance_id
            assert copy.title == track.title and copy.verdict == track.verdict
            theirs = await SqliteFederationStore(peer.instance.db).manifest(track.id)
            ours = await SqliteFederationStore(a.instance.db).manifest(track.id)
            assert theirs == ours and ours["signature"]["instance"] == a.instance.identity.instance_id
        await a.instance.app.moderation.takedown(track.id, ALICE, "asked by the author")
        for peer in (b, c):
            app = peer.instance.app

            async def removed(app=app) -> bool:  # the status changes first, then the blob goes
                found = await app.tracks.get(track.id)
                return (
                    found is not None and found.status is TrackStatus.TAKEN_DOWN and not await app.pool.has(track.cid)
                )

            await eventually(removed, 30, "the takedown on a peer, its blob deleted")

        # A has no chat bot here: its federation part itself redacts the manifest event it sent
        # (the homeserver would otherwise keep serving the metadata and the audio's mxc URI).
        def a_manifests() -> list[dict]:
            return [
                e
                for e in synapse.messages(owner_token, room, 200)
                if e["type"] == TRACK_EVENT and e["sender"] == a.instance.settings.matrix.user_id
            ]

        async def withdrawn() -> bool:
            events = a_manifests()
            return bool(events) and all(not e["content"] for e in events)

        await eventually(withdrawn, 30, "A's manifest event of the track to be redacted")


async def test_catch_up_after_downtime_processes_each_once(federation_room, tmp_path: Path) -> None:
    _room, configs, _owner = federation_room
    async with running(configs["a"]) as a:
        async with running(configs["c"]) as c:
            first = await publish_fast(a, 1, tmp_path)

            async def got_first() -> bool:
                return await c.instance.app.tracks.get(first[0]) is not None

            await eventually(got_first, 30, "the first track")
        ids = await publish_fast(a, 50, tmp_path)  # C is down

        async def all_sent() -> bool:
            return not await SqliteFederationStore(a.instance.db).outbox_pending(1)

        await eventually(all_sent, 60, "A's outbox to drain")
        async with running(configs["c"]) as c:
            app = c.instance.app

            async def converged() -> bool:
                return all([await app.tracks.get(i) is not None for i in ids])

            await eventually(converged, 60, "C to converge")
            assert await app.tracks.count() == 51
            runner = c.parts.federation.runner
            seen = await c.instance.db.fetchone("SELECT count(*) FROM fed_seen")
            assert seen[0] >= 51
            assert runner.replicator.rejected_events == 0


async def test_forged_manifest_and_bad_source(federation_room, synapse: Homeserver, tmp_path: Path) -> None:
    _room, configs, _owner = federation_room
    async with running(configs["a"]) as a, running(configs["b"]) as b:
        runner = a.parts.federation.runner
        app = a.instance.app
        blob = tmp_path / "real.bin"
        blob.write_bytes(b"the real bytes " * 1000)
        cid, size = await app.pool.put_file(blob)
        from dataclasses import replace

        from tests.support.factories import make_track, member

        track = replace(
            make_track(member("alice"), "Faulty"), cid=cid, size=size, origin_instance=a.instance.identity.instance_id
        )
        await app.tracks.add(track)
        evil = tmp_path / "evil.bin"
        evil.write_bytes(b"other bytes")
        evil_mxc = await runner.api.upload(evil, "application/octet-stream", evil.stat().st_size)
        good_mxc = await runner.api.upload(blob, "application/octet-stream", size)
        manifest = sign(manifest_for(track, [{"mxc": evil_mxc}, {"mxc": good_mxc}], "a"), a.instance.identity)
        b_store = SqliteFederationStore(b.instance.db)

        async def b_knows_a() -> bool:
            return await b_store.peer_by_user(runner.api.user_id) is not None

        await eventually(b_knows_a, 30, "B to see A's instance key")
        forged = dict(manifest, title="forged title")
        await runner.transport.send(TRACK_EVENT, {"manifest": forged})
        await runner.transport.send(TRACK_EVENT, {"manifest": manifest})

        async def arrived() -> bool:
            return await b.instance.app.tracks.get(track.id) is not None

        await eventually(arrived, 30, "the track via the second source")
        assert (await b.instance.app.tracks.get(track.id)).title == "Faulty"
        assert await b.instance.app.pool.read(cid) == blob.read_bytes()
        assert b.parts.federation.runner.replicator.rejected_events >= 1


async def test_track_crosses_between_two_homeservers(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    one = Homeserver.start(tmp_path_factory.mktemp("hs-one"), federating=True)
    two = Homeserver.start(tmp_path_factory.mktemp("hs-two"), federating=True)
    try:
        _owner, owner_token = one.register("owner")
        alias_local = f"fed{os.urandom(3).hex()}"
        one.call(
            "POST",
            "/_matrix/client/v3/createRoom",
            owner_token,
            {
                "name": "cross",
                "preset": "public_chat",
                "room_alias_name": alias_local,
                "power_level_content_override": {"events": ROOM_EVENT_LEVELS},
            },
        )
        alias = f"#{alias_local}:{one.server_name}"
        configs = {}
        for name, server in (("a", one), ("b", two)):
            user, token = server.register(f"inst{name}")
            configs[name] = write_config(
                tmp_path / f"{name}.toml",
                tmp_path / name,
                matrix={"homeserver": server.url, "user_id": user, "access_token": token},
                federation={"rooms": [alias]},
            )
        async with running(configs["a"]) as a, running(configs["b"]) as b:
            b_store = SqliteFederationStore(b.instance.db)

            async def b_knows_a() -> bool:
                return await b_store.peer_by_instance(a.instance.identity.instance_id) is not None

            await eventually(b_knows_a, 60, "B (on the second homeserver) to see A's key")
            track = await _share(a, make_mp3(tmp_path / "cross.mp3", 3, 8))

            async def crossed() -> bool:
                return await b.instance.app.tracks.get(track.id) is not None

            await eventually(crossed, 60, "the track on the other homeserver")
            assert await b.instance.app.pool.read(track.cid) == await a.instance.app.pool.read(track.cid)
    finally:
        one.stop()
        two.stop()


async def test_late_joiner_bootstraps_from_snapshot(federation_room, synapse: Homeserver, tmp_path: Path) -> None:
    room, configs, (_owner, owner_token) = federation_room
    async with running(configs["a"]) as a:
        ids = await publish_fast(a, 120, tmp_path)

        async def all_sent() -> bool:
            return not await SqliteFederationStore(a.instance.db).outbox_pending(1)

        await eventually(all_sent, 90, "A's outbox to drain")

        async def a_read_own() -> bool:  # the snapshot names the last event A read: the room's newest
            newest = next(e["event_id"] for e in synapse.messages(owner_token, room, 50) if e["type"] in TYPES)
            return await a.instance.state.get("federation", f"room:{room}:last") == newest

        await eventually(a_read_own, 30, "A's reader to catch up with its own last events")
        content = await a.parts.federation.runner.publish_snapshot()
        assert content["count"] == 120
        async with running(configs["c"]) as c:
            app = c.instance.app

            async def converged() -> bool:
                return await app.tracks.count() == 120

            await eventually(converged, 90, "C to load the snapshot and fetch")
            assert all([await app.tracks.get(i) is not None for i in ids])
            seen = await c.instance.db.fetchone("SELECT count(*) FROM fed_seen")
            assert seen[0] < 60, "C paged through history the snapshot covers"


async def test_sigkill_mid_fetch_leaves_no_partial_blob_and_resumes(federation_room, tmp_path: Path) -> None:
    import hashlib
    import signal
    import subprocess
    import sys

    from core.cid import cid_from_digest

    _room, configs, _owner = federation_room
    root = Path(__file__).resolve().parents[2]
    c_data = tmp_path / "c"

    def start_c() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "bots.cli", "--config", str(configs["c"]), "run"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def c_has(sql: str, *params: str) -> bool:
        """Whether C's database (read-only, while C runs) has a row for ``sql``."""
        database = c_data / "wavepool.sqlite3"
        if not database.exists():
            return False
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as conn:
            try:
                return conn.execute(sql, params).fetchone() is not None
            except sqlite3.OperationalError:  # C is still creating its schema
                return False

    async with running(configs["a"]) as a:
        proc = start_c()
        try:

            async def c_reads_the_room() -> bool:  # C has joined and read A's instance key
                return c_has("SELECT 1 FROM fed_peers WHERE instance_id = ?", a.instance.identity.instance_id)

            await eventually(c_reads_the_room, 60, "C to join and read A's key")
            blob = tmp_path / "big.bin"
            blob.write_bytes(os.urandom(40 * 1024 * 1024))
            from dataclasses import replace

            from tests.support.factories import make_track, member

            cid, size = await a.instance.app.pool.put_file(blob)
            track = replace(
                make_track(member("alice"), "Big one"),
                cid=cid,
                size=size,
                origin_instance=a.instance.identity.instance_id,
            )
            await a.instance.app.tracks.add(track)
            await a.parts.federation.runner.replicator.publish_track(track)
            a.parts.federation.runner.wake()
            tmp = c_data / "pool" / "tmp"

            async def fetch_in_progress() -> bool:
                try:
                    return tmp.exists() and any(p.stat().st_size > 0 for p in tmp.glob("*.part"))
                except FileNotFoundError:  # a part renamed between listing and stat
                    return False

            try:
                await eventually(fetch_in_progress, 60, "C's fetch to be in progress", poll_s=0.002)
            finally:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            for stored in (c_data / "pool" / "blobs").glob("*/*"):
                assert cid_from_digest(hashlib.sha256(stored.read_bytes()).digest()) == stored.name
            proc = start_c()
            final = c_data / "pool" / "blobs" / cid[-2:] / cid

            async def resumed() -> bool:  # the blob is in place and its track recorded
                return final.exists() and c_has("SELECT 1 FROM tracks WHERE id = ?", track.id)

            await eventually(resumed, 90, "C to resume the fetch after the kill")
            assert cid_from_digest(hashlib.sha256(final.read_bytes()).digest()) == cid
            assert not list(tmp.glob("*.part"))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


async def test_redaction_digest_and_operator_commands(federation_room, tmp_path: Path) -> None:
    import subprocess
    import sys
    import urllib.parse

    _room, configs, _owner = federation_room
    async with running(configs["a"]) as a, running(configs["b"]) as b:
        (track_id,) = await publish_fast(a, 1, tmp_path)

        async def arrived() -> bool:
            return await b.instance.app.tracks.get(track_id) is not None

        await eventually(arrived, 30, "the track on B")
        # the origin redacts its track event: B takes the track down
        row = await a.instance.db.fetchone("SELECT event_id FROM fed_manifests WHERE track_id = ?", (track_id,))
        event_id = row[0]
        runner = a.parts.federation.runner
        room_id = runner.transport.rooms[0]
        await runner.api.request(
            "PUT",
            f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/redact/"
            f"{urllib.parse.quote(event_id)}/txn{os.urandom(4).hex()}",
            {},
        )

        async def taken_down() -> bool:
            found = await b.instance.app.tracks.get(track_id)
            return found is not None and found.status is TrackStatus.TAKEN_DOWN

        await eventually(taken_down, 30, "the redaction to take the track down on B")
        # A's weekly digest reaches B for "highlights from peers"
        await runner.replicator.publish_digest({"top": [{"title": "Neon Rain", "votes": 3}]}, "Weekly digest")
        runner.wake()
        key = f"digest:{a.instance.identity.instance_id}"

        async def digest_seen() -> bool:
            return await b.instance.state.get("federation", key) is not None

        await eventually(digest_seen, 30, "A's digest on B")
        assert b.instance.app.digest is not None
        own = digest_reply(await b.instance.app.digest.build())
        assert own.data["peers"] == [{"peer": a.instance.settings.instance.name, "top": ["Neon Rain"]}]
        assert "Highlights from peers" in own.text
        from core.commands.declaration import Invocation, Permission
        from core.commands.dispatch import execute

        def mod(args: dict[str, object]) -> Invocation:
            return Invocation("matrix", "@mod:hs", "mod", "!r", Permission.MODERATOR, args)

        listed = await execute(b.instance.registry.get("peers"), mod({}))
        assert a.instance.identity.instance_id in listed.data["peers"]
        status = await execute(b.instance.registry.get("federation status"), mod({}))
        assert status.data["queue"] == 0 and status.data["rooms"]
    root = Path(__file__).resolve().parents[2]
    peers = subprocess.run(
        [sys.executable, "-m", "bots.cli", "--config", str(configs["b"]), "peers", "--json"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert peers.returncode == 0, peers.stderr
    listed = {p["instance"]: p for p in json.loads(peers.stdout)}
    assert a.instance.identity.instance_id in listed and listed[a.instance.identity.instance_id]["trusted"]
    status = subprocess.run(
        [sys.executable, "-m", "bots.cli", "--config", str(configs["b"]), "federation", "status"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 0 and "fetch queue: 0 waiting" in status.stdout, status.stdout + status.stderr


async def test_blob_gone_at_origin_is_fetched_from_a_holder(
    federation_room, synapse: Homeserver, tmp_path: Path
) -> None:
    import urllib.parse

    _room, configs, _owner = federation_room
    _admin, admin_token = synapse.register(f"admin{os.urandom(3).hex()}", admin=True)
    async with running(configs["a"]) as a:
        async with running(configs["b"]) as b:
            (track_id,) = await publish_fast(a, 1, tmp_path, size=50_000)

            async def held_and_announced() -> bool:
                stored = await b.instance.app.tracks.get(track_id) is not None
                return stored and not await SqliteFederationStore(b.instance.db).outbox_pending(1)

            await eventually(held_and_announced, 30, "B to hold the blob and announce it")
        manifest = await SqliteFederationStore(a.instance.db).manifest(track_id)
        origin_mxc = manifest["sources"][0]["mxc"]
        server, media = origin_mxc[len("mxc://") :].split("/", 1)
        synapse.call("DELETE", f"/_synapse/admin/v1/media/{urllib.parse.quote(server)}/{media}", admin_token)
    async with running(configs["c"]) as c:

        async def rescued() -> bool:
            return await c.instance.app.tracks.get(track_id) is not None

        await eventually(rescued, 60, "C to fetch the blob from B's announcement")
    with pytest.raises(RuntimeError, match="404"):  # the origin's copy really is gone
        synapse.call("GET", f"/_matrix/client/v1/media/download/{server}/{media}", admin_token)

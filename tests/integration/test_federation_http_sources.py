"""A peer's ``{"http": url}`` blob sources pass the address guard (no SSRF through federation).

Two replicators share a fake room (as in tests/contract/test_replication.py), but the
receiving side opens sources with the real ``MatrixBlobSource`` and the blob is served by
a real HTTP server on 127.0.0.1. Without ``[links] allow_ranges`` the loopback source is
refused before anything is sent to it; with ``127.0.0.1/32`` allowed the track arrives.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from bots.federation.blob_sources import MatrixBlobSource
from bots.federation.matrix_api import MatrixApi
from config.settings import LinkSettings
from core.clock import ManualClock
from core.errors import FetchError, TooLargeError, UnsafeUrlError
from core.federation.manifest import manifest_for, sign
from core.federation.peer_registry import key_proof
from core.federation.policy import FederationPolicy
from core.federation.replication import Replicator
from storage.blob_pool import DiskBlobPool
from storage.identity import instance_id_for, load_or_create_identity, verify_signature
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.support.factories import make_track, member
from tests.support.link_server import LinkServer, RawServer

LOOPBACK_ALLOWED = LinkSettings(allow_ranges=("127.0.0.1/32",), connect_timeout_s=3.0, read_timeout_s=3.0)
STRICT = LinkSettings(connect_timeout_s=3.0, read_timeout_s=3.0)
BLOB = b"the bytes a peer serves over http " * 300


@pytest.fixture
async def server() -> AsyncIterator[LinkServer]:
    running = await LinkServer().start()
    yield running
    await running.stop()


def _api() -> MatrixApi:
    return MatrixApi("http://127.0.0.1:9", "unused-token", "@receiver:hs")


async def _receiver(tmp: Path, name: str, links: LinkSettings, host_map: dict[str, str] | None = None):
    """A replicator whose blob sources are the real guarded ``MatrixBlobSource``."""
    db = await Database.open(tmp / f"{name}.sqlite3")
    identity = load_or_create_identity(tmp / name)
    rep = Replicator(
        signer=identity,
        name=name,
        community="c",
        homepage="",
        user_id=f"@{name}:hs",
        store=SqliteFederationStore(db),
        tracks=SqliteTrackRepository(db),
        pool=DiskBlobPool(tmp / name / "pool"),
        clock=ManualClock(),
        policy=FederationPolicy(),
        sources=MatrixBlobSource(_api(), links, host_map),
        verify=verify_signature,
        id_for_key=instance_id_for,
        events=SqliteEventLog(db),
    )
    return rep, db


async def _offer(tmp: Path, rep: Replicator, url: str) -> str:
    """Peer ``origin`` publishes its key, then a signed manifest whose only source is ``url``."""
    origin = load_or_create_identity(tmp / "origin")
    await rep.handle_instance(
        "@origin:hs",
        "@origin:hs",
        {"instance": origin.instance_id, "public_key": origin.public_key_b64, "proof": key_proof(origin, "@origin:hs")},
    )
    pool = DiskBlobPool(tmp / "origin" / "pool")
    source = tmp / "blob.bin"
    source.write_bytes(BLOB)
    cid, size = await pool.put_file(source)
    track = replace(
        make_track(member("alice"), "Over HTTP"),
        cid=cid,
        size=size,
        origin_instance=origin.instance_id,
    )
    manifest = sign(manifest_for(track, [{"http": url}], "origin"), origin)
    assert await rep.handle_track("$t1", "@origin:hs", {"manifest": manifest}) == "queued"
    return track.id


async def test_loopback_source_refused_unless_the_operator_allows_it(tmp_path: Path, server: LinkServer) -> None:
    server.add_bytes("/blob", BLOB, "application/octet-stream")
    strict, strict_db = await _receiver(tmp_path, "strict", STRICT)
    allowed, allowed_db = await _receiver(tmp_path, "allowed", LOOPBACK_ALLOWED)
    try:
        refused_id = await _offer(tmp_path, strict, server.url("/blob"))
        assert await strict.run_queue() == 0
        assert server.seen == []  # refused before a byte was sent
        assert await strict._tracks.get(refused_id) is None
        [failure] = await strict.store.failures(5)
        assert "loopback" in (failure.last_error or "")

        track_id = await _offer(tmp_path, allowed, server.url("/blob"))
        assert await allowed.run_queue() == 1
        assert server.paths() == ["/blob"]
        track = await allowed._tracks.get(track_id)
        assert track is not None and await allowed._pool.read(track.cid) == BLOB
    finally:
        await strict_db.close()
        await allowed_db.close()


async def test_metadata_and_private_addresses_never_reached() -> None:
    source = MatrixBlobSource(_api(), STRICT)
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/blob",
        "http://[::1]/blob",
        "http://0x7f000001/blob",
        "http://2130706433/blob",
        "http://[::ffff:127.0.0.1]/blob",
        "http://localhost/blob",
        "file:///etc/passwd",
        "ftp://example.org/blob",
    ):
        with pytest.raises((UnsafeUrlError, FetchError)):
            async for _ in source.open({"http": url}, 10_000):
                pass


async def test_redirect_to_a_private_address_refused(server: LinkServer) -> None:
    server.add_bytes("/blob", BLOB, "application/octet-stream")
    server.add_redirect("/moved", server.url("/blob"))
    # peer.test is allowed by name (pinned to 127.0.0.1); where it redirects to is not.
    links = LinkSettings(allow_hosts=("peer.test",), connect_timeout_s=3.0, read_timeout_s=3.0)
    source = MatrixBlobSource(_api(), links, {"peer.test": "127.0.0.1"})
    with pytest.raises(UnsafeUrlError):
        async for _ in source.open({"http": server.url("/moved", host="peer.test")}, 10_000_000):
            pass
    assert server.paths() == ["/moved"]


async def test_size_cap_holds_without_and_with_a_lying_length(server: LinkServer) -> None:
    server.add_bytes("/big", b"x" * 50_000, "application/octet-stream")
    server.add_chunked("/endless", b"y" * 65536, 1000, "application/octet-stream")
    source = MatrixBlobSource(_api(), LOOPBACK_ALLOWED)
    for path in ("/big", "/endless"):
        received = 0
        with pytest.raises(TooLargeError):
            async for chunk in source.open({"http": server.url(path)}, 20_000):
                received += len(chunk)
        assert received <= 20_000


async def test_source_that_breaks_off_is_a_fetch_error() -> None:
    broken = RawServer(response=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
    await broken.start()
    try:
        source = MatrixBlobSource(_api(), LOOPBACK_ALLOWED)
        with pytest.raises(FetchError):
            async for _ in source.open({"http": f"http://127.0.0.1:{broken.port}/blob"}, 1_000_000):
                pass
        assert broken.connections == 1
    finally:
        await broken.stop()


# -- the same through a real Synapse and running instances (the wiring in bots/federation/part.py) --


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    from tests.support.homeserver import Homeserver

    homeserver = Homeserver.start(tmp_path_factory.mktemp("synapse"))
    yield homeserver
    homeserver.stop()


async def test_running_instances_apply_their_links_policy_to_peer_sources(
    synapse, tmp_path: Path, server: LinkServer
) -> None:
    from bots.federation.part import ROOM_EVENT_LEVELS
    from core.federation.replication import TRACK_EVENT
    from storage.sqlite.federation_store import SqliteFederationStore
    from tests.support.instances import eventually, running, write_config

    _owner, owner_token = synapse.register("owner-http")
    room = synapse.create_room(owner_token, name="http sources", events=ROOM_EVENT_LEVELS)
    configs = {}
    for name, links in (
        ("a", {}),
        ("strict", {}),
        ("allowing", {"allow_ranges": ["127.0.0.1/32"]}),
    ):
        user, token = synapse.register(f"{name}-http")
        configs[name] = write_config(
            tmp_path / f"{name}.toml",
            tmp_path / name,
            links=links,
            matrix={"homeserver": synapse.url, "user_id": user, "access_token": token},
            federation={"rooms": [room]},
            http={"port": 0},
        )
    server.add_bytes("/blob", BLOB, "application/octet-stream")
    async with (
        running(configs["a"]) as a,
        running(configs["strict"]) as strict,
        running(configs["allowing"]) as allowing,
    ):
        runner = a.parts.federation.runner
        source = tmp_path / "blob.bin"
        source.write_bytes(BLOB)
        cid, size = await a.instance.app.pool.put_file(source)
        track = replace(
            make_track(member("alice"), "Only over HTTP"),
            cid=cid,
            size=size,
            origin_instance=a.instance.identity.instance_id,
        )
        manifest = sign(manifest_for(track, [{"http": server.url("/blob")}], "a"), a.instance.identity)
        strict_store = SqliteFederationStore(strict.instance.db)
        allowing_store = SqliteFederationStore(allowing.instance.db)

        async def both_know_a() -> bool:
            return all([await s.peer_by_user(runner.api.user_id) is not None for s in (strict_store, allowing_store)])

        await eventually(both_know_a, 30, "both peers to see A's instance key")
        await runner.transport.send(TRACK_EVENT, {"manifest": manifest})

        async def allowed_arrived() -> bool:
            return await allowing.instance.app.tracks.get(track.id) is not None

        async def strict_refused() -> bool:
            return any("loopback" in (f.last_error or "") for f in await strict_store.failures(5))

        await eventually(allowed_arrived, 30, "the track at the instance that allows 127.0.0.1")
        assert await allowing.instance.app.pool.read(cid) == BLOB
        await eventually(strict_refused, 30, "the strict instance to refuse the loopback source")
        assert await strict.instance.app.tracks.get(track.id) is None
        assert server.paths() == ["/blob"]  # one request, from the allowing instance only

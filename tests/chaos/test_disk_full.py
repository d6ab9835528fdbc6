"""The disk fills up under a running instance (a size-limited tmpfs as its data directory):
sharing and replication fail with a clear error, leave nothing half-written, and work again
as soon as space returns — without a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bots.instance import Instance
from bots.runtime import open_instance
from config import load_settings
from core.commands.declaration import Attachment, Invocation, Permission
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.errors import StorageError
from core.events.model import EventKind
from core.federation.event_types import backoff
from core.federation.policy import FederationPolicy
from core.federation.replication import INSTANCE_EVENT
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.track_repository import SqliteTrackRepository
from tests.chaos.conftest import SmallDisk
from tests.contract.test_replication import FakeRoom, Node, _local_track
from tests.support.audio import make_mp3
from tests.support.factories import member
from tests.support.instances import write_config

ALICE = member("alice")


@pytest.fixture
async def instance(small_disk: SmallDisk, tmp_path: Path) -> AsyncIterator[Instance]:
    config = write_config(tmp_path / "c.toml", small_disk.root / "data")
    async with open_instance(load_settings(config, environ={})) as opened:
        yield opened


async def _share(instance: Instance, path: Path) -> tuple[bool, str]:
    command, args = parse_chat(instance.registry, "share")
    attachment = Attachment(path.name, path, path.stat().st_size, "audio/mpeg")
    inv = Invocation("matrix", ALICE.user_id, "Alice", "!r:hs", Permission.MEMBER, args, attachments=(attachment,))
    reply = await execute(command, inv)
    return not reply.failed, reply.text


def _pool_files(instance: Instance) -> list[Path]:
    return [p for p in (instance.data_dir / "pool").rglob("*") if p.is_file()]


async def test_a_share_on_a_full_disk_fails_clearly_and_works_when_space_returns(
    instance: Instance, small_disk: SmallDisk, tmp_path: Path
) -> None:
    first = make_mp3(tmp_path / "first.mp3", 3, 1)
    assert (await _share(instance, first))[0]
    blobs_before = _pool_files(instance)
    track_count = await instance.app.tracks.count()
    events_before = len(await instance.events.after(0, 10_000))

    second = make_mp3(tmp_path / "second.mp3", 20, 2)
    small_disk.fill(leave=second.stat().st_size // 4)
    ok, text = await _share(instance, second)
    assert not ok
    assert "disk" in text.lower() or "space" in text.lower(), text  # says what is wrong, not "internal error"
    assert _pool_files(instance) == blobs_before  # no half-written blob, no temp file left
    assert await instance.app.tracks.count() == track_count
    assert len(await instance.events.after(0, 10_000)) == events_before  # no event of a track that is not there

    small_disk.clear()
    ok, text = await _share(instance, second)
    assert ok, text
    assert await instance.app.tracks.count() == track_count + 1
    assert len(_pool_files(instance)) == len(blobs_before) + 1
    ok, text = await _share(instance, first)  # the first is still known: nothing was lost
    assert ok and "already" in text.lower(), text


async def test_replication_on_a_full_disk_is_retried_and_completes_when_space_returns(
    small_disk: SmallDisk, tmp_path: Path
) -> None:
    room = FakeRoom()
    dbs = [await Database.open(tmp_path / "a.sqlite3"), await Database.open(small_disk.root / "b.sqlite3")]
    try:
        a, b = (
            Node(
                name,
                where,
                room,
                SqliteTrackRepository(db),
                SqliteFederationStore(db),
                FederationPolicy(),
                SqliteEventLog(db),
            )
            for name, where, db in zip("ab", (tmp_path, small_disk.root), dbs, strict=True)
        )
        for node in (a, b):
            assert node.rep.transport is not None
            await node.rep.transport.put_state(INSTANCE_EVENT, node.user, node.rep.instance_state())
        track = await _local_track(a, b"a peer's track " * 20_000)  # 300 kB
        await a.rep.publish_track(track)
        await a.rep.flush_outbox()
        assert await b.read() == ["queued"]

        small_disk.fill(leave=100_000)
        try:
            stored = await b.rep.run_queue()
        except StorageError:  # the database could not record the retry either: the item stays queued
            stored = 0
        assert stored == 0
        assert await b.tracks.get(track.id) is None
        assert not await b.pool.has(track.cid)
        assert not [p for p in (b.pool.root / "tmp").iterdir()]  # nothing half-written
        assert await b.store.queue_size() == 1  # the fetch is still owed

        small_disk.clear()
        b.rep._clock.advance(backoff(1) + timedelta(seconds=1))  # type: ignore[attr-defined]  # the retry is due
        assert await b.rep.run_queue() == 1
        assert await b.pool.read(track.cid) == await a.pool.read(track.cid)
        assert await b.store.queue_size() == 0
        replicated = [e for e in await b.rep._events.after(0, 100) if e.kind is EventKind.TRACK_REPLICATED]  # type: ignore[attr-defined]
        assert len(replicated) == 1  # recorded once
    finally:
        for db in dbs:
            await db.close()

"""Starting federation: the Matrix account, the rooms, the reader, the fetch worker, the hooks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bots.backoff import Backoff
from bots.federation.blob_sources import MatrixBlobSource
from bots.federation.matrix_api import MatrixApi, MatrixError
from bots.federation.room_reader import NAMESPACE, RoomReader
from core.commands.declaration import Post
from core.federation.policy import FederationPolicy
from core.federation.ports import PeerStats
from core.federation.replication import INSTANCE_EVENT, SNAPSHOT_STATE, Replicator
from core.model import Track
from storage.identity import instance_id_for, verify_signature
from storage.sqlite.federation_store import SqliteFederationStore

if TYPE_CHECKING:
    from bots.runtime import Instance

log = logging.getLogger(__name__)

# Power levels a federation room needs so that every member instance can publish its key
# and snapshots (state events need level 50 by default).
ROOM_EVENT_LEVELS = {INSTANCE_EVENT: 0, SNAPSHOT_STATE: 0}


class MatrixFederationTransport:
    """``FederationTransport``: sends to every federation room."""

    def __init__(self, api: MatrixApi, rooms: list[str]) -> None:
        self._api = api
        self.rooms = rooms

    async def upload(self, path: Path, media_type: str, size: int) -> str:
        return await self._api.upload(path, media_type, size)

    async def send(self, event_type: str, content: Mapping[str, Any]) -> str:
        event_id = ""
        for room_id in self.rooms:
            event_id = await self._api.send(room_id, event_type, content)
        return event_id

    async def put_state(self, event_type: str, state_key: str, content: Mapping[str, Any]) -> None:
        for room_id in self.rooms:
            await self._api.put_state(room_id, event_type, state_key, content)

    async def create_room(self, name: str) -> str:
        """A federation room whose members may publish instance keys and snapshots."""
        data = await self._api.request("POST", "/_matrix/client/v3/createRoom", {
            "name": name, "preset": "public_chat", "topic": "Wavepool federation",
            "power_level_content_override": {"events": ROOM_EVENT_LEVELS}})
        return str(data["room_id"])


async def open_api(instance: Instance) -> MatrixApi:
    """The federation's Matrix client (the instance's Matrix account)."""
    matrix = instance.settings.matrix
    assert matrix.homeserver and matrix.user_id
    if matrix.access_token:
        return MatrixApi(matrix.homeserver, matrix.access_token, matrix.user_id)
    assert matrix.password
    return await MatrixApi.login(matrix.homeserver, matrix.user_id, matrix.password, f"{matrix.device_name}-federation")


async def federation_rooms(instance: Instance) -> list[str]:
    """Rooms from config plus those joined with ``wavepool federation join``."""
    extra = json.loads(await instance.state.get(NAMESPACE, "rooms") or "[]")
    left = set(json.loads(await instance.state.get(NAMESPACE, "left") or "[]"))
    rooms = [r for r in (*instance.settings.federation.rooms, *extra) if r not in left]
    return list(dict.fromkeys(rooms))


def build_replicator(instance: Instance, api: MatrixApi) -> Replicator:
    """The replicator of an instance, wired to its storage and the Matrix account."""
    settings = instance.settings
    fed = settings.federation
    policy = FederationPolicy(
        accept_verdicts=fed.accept_verdicts, accept_genres=fed.accept_genres,
        max_track_bytes=int(fed.max_track_mb * 1024 * 1024), quota_bytes=int(fed.quota_gb * 1024**3),
        blocked=fed.blocked_instances)
    return Replicator(
        signer=instance.identity, name=settings.instance.name, community=settings.instance.community,
        homepage=settings.http.public_url or "", user_id=api.user_id,
        store=SqliteFederationStore(instance.db), tracks=instance.app.tracks, pool=instance.app.pool,
        clock=instance.app.clock, policy=policy, sources=MatrixBlobSource(api, settings.links, settings.links.pinned_hosts or None), verify=verify_signature,
        id_for_key=instance_id_for, public_url=settings.http.public_url)


class FederationRunner:
    """Everything federation does while the instance runs."""

    def __init__(self, instance: Instance, api: MatrixApi, rooms: list[str]) -> None:
        self.instance = instance
        self.api = api
        self.replicator = build_replicator(instance, api)
        self.transport = MatrixFederationTransport(api, rooms)
        self.replicator.transport = self.transport
        self.replicator.on_queued = self.wake
        self.reader = RoomReader(api, self.replicator, instance.state, rooms, instance.db)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Run the worker now (new work arrived)."""
        self._wake.set()

    def hook(self) -> None:
        """Publish accepted tracks, approvals, takedowns and digests."""
        app = self.instance.app

        async def accepted(track: Track) -> None:
            await self.replicator.publish_track(track)
            self.wake()

        async def taken_down(track: Track) -> None:
            await self.replicator.publish_tombstone(track)
            self.wake()

        async def digest(post: Post) -> None:
            if post.target == "digest":
                await self.replicator.publish_digest(post.reply.data, post.reply.title or "digest")
                self.wake()

        async def peer_highlights() -> list[tuple[str, list[str]]]:
            out = []
            for key in await self.instance.state.keys(NAMESPACE, "digest:"):
                raw = await self.instance.state.get(NAMESPACE, key)
                if raw is None:
                    continue
                digest = json.loads(raw)
                titles = [str(row.get("title")) for row in (digest.get("data") or {}).get("top") or ()
                          if isinstance(row, dict)]
                out.append((str((digest.get("origin") or {}).get("name") or key[7:]), titles))
            return out

        if app.digest is not None:
            app.digest.peer_highlights = peer_highlights
        app.federation = self
        app.share.on_accepted(accepted)
        app.moderation.on_approved(accepted)
        app.moderation.on_taken_down(taken_down)
        app.announcer.register("federation", digest)

    async def peer_stats(self) -> Sequence[PeerStats]:
        """Peers seen in the rooms (``FederationInfo``)."""
        return await self.replicator.store.peer_stats()

    async def status(self) -> dict[str, Any]:
        """Rooms, checkpoint, queue and failures (``FederationInfo``)."""
        store = self.replicator.store
        return {
            "instance": self.instance.identity.instance_id, "rooms": list(self.transport.rooms),
            "checkpoint": await self.instance.state.get(NAMESPACE, "since"),
            "queue": await store.queue_size(), "outbox": len(await store.outbox_pending(1000)),
            "failures": [{"cid": i.cid, "attempts": i.attempts, "error": i.last_error}
                         for i in await store.failures(10)],
            "rejected_events": self.replicator.rejected_events,
        }

    async def join_rooms(self) -> None:
        """Join the rooms (ids or aliases) and publish this instance's key in each."""
        joined: list[str] = []
        for room in self.transport.rooms:
            try:
                joined.append(await self.api.join(room))
            except MatrixError as error:
                log.error("cannot join federation room %s: %s", room, error)
        self.transport.rooms[:] = joined
        self.reader.rooms[:] = joined
        for room_id in joined:
            try:
                await self.api.put_state(room_id, INSTANCE_EVENT, self.api.user_id, self.replicator.instance_state())
            except MatrixError as error:
                log.error("cannot publish this instance's key in %s (%s); the room's power levels must let "
                          "members send %s state events (see docs/FEDERATION.md)", room_id, error, INSTANCE_EVENT)

    async def publish_snapshot(self) -> dict[str, Any]:
        """Put the manifest index in the pool, upload it and point each room's state at it.

        Each room's snapshot names the last event of that room this instance had read
        when it was built: a late joiner reads only what follows it.
        """
        work = self.instance.data_dir / "downloads"
        cid, count, path = await self.replicator.build_snapshot(work)
        try:
            mxc = await self.api.upload(path, "application/x-ndjson", path.stat().st_size)
        finally:
            await self.instance.app.pool.delete(cid)  # uploaded; no track references it
        content: dict[str, Any] = {"cid": cid, "mxc": mxc, "count": count}
        for room_id in self.transport.rooms:
            last = await self.instance.state.get(NAMESPACE, f"room:{room_id}:last")
            await self.api.put_state(room_id, SNAPSHOT_STATE, self.api.user_id, {**content, "last_event_id": last})
        return content

    async def read_forever(self) -> None:
        """Sync the rooms; errors back off and retry."""
        backoff = Backoff()
        while True:
            try:
                await self.reader.sync_once(timeout_ms=1000)
                backoff.reset()
                self.wake()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await backoff.wait(log, "federation sync", error)

    async def work_forever(self) -> None:
        """Send the outbox and fetch queued blobs; woken by new work, else every 2 s."""
        while True:
            self._wake.clear()
            try:
                # Fetch first: re-uploading blobs for `have` announcements competes with
                # downloads for the homeserver, and is the less urgent of the two.
                while await self.replicator.run_queue():
                    pass
                await self.replicator.flush_outbox()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("federation worker: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=2.0)

    async def run(self) -> None:
        """Join, then read and work until cancelled; a failed start is retried with backoff."""
        backoff = Backoff(2.0, 300.0)
        try:
            while True:
                try:
                    await self.join_rooms()
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    await backoff.wait(log, "federation start", error)
            await asyncio.gather(self.read_forever(), self.work_forever())
        finally:
            await self.api.close()


async def start(instance: Instance) -> asyncio.Task[None] | None:
    """Start federation when a Matrix account and federation rooms are configured."""
    matrix = instance.settings.matrix
    if not matrix.homeserver or not matrix.user_id:
        if instance.settings.federation.rooms:
            log.warning("federation rooms are configured but no Matrix account: federation is off")
        return None
    try:
        api = await open_api(instance)
    except Exception as error:  # a refused password or an unreachable homeserver: say so, keep running
        log.error("federation not started: cannot log in to %s: %s", matrix.homeserver, error)
        return None
    rooms = await federation_rooms(instance)
    if not rooms:
        await api.close()
        log.info("federation off: no federation rooms configured")
        return None
    runner = FederationRunner(instance, api, rooms)
    runner.hook()
    instance.extras["federation"] = runner
    log.info("federation on: %d room(s) as %s (%s)", len(rooms), api.user_id, instance.identity.instance_id)
    return asyncio.create_task(runner.run(), name="federation")

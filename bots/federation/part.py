"""Federation as a part of the running instance: the Matrix account, the rooms, the reader,
the fetch worker, and the outbox subscriber that queues what to publish."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from bots.backoff import Backoff
from bots.curation_setup import curated_federation
from bots.federation.blob_sources import MatrixBlobSource
from bots.federation.matrix_api import MatrixApi, MatrixError
from bots.federation.matrix_session import SessionKeeper
from bots.federation.room_reader import NAMESPACE, RoomBatch, RoomReader
from bots.federation.room_setup import ROOM_EVENT_LEVELS as ROOM_EVENT_LEVELS  # where tests and docs look
from bots.federation.rooms import federation_rooms, forget_room, remember_room, resolve_room
from bots.federation.round_link import build_round_exchange, send_round_documents
from bots.federation.takedown import withdraw_track
from bots.instance import Instance
from core.events.model import RecordedEvent
from core.federation.policy import FederationPolicy
from core.federation.ports import FederationTransport, LastingSendError
from core.federation.publishing import FederationPublisher
from core.federation.replication import INSTANCE_EVENT, SNAPSHOT_STATE, Replicator
from core.waiting import wait_until_set
from storage.identity import instance_id_for, verify_signature
from storage.sqlite.federation_store import SqliteFederationStore

log = logging.getLogger(__name__)

T = TypeVar("T")

# `have` announcements (a re-upload each) wait until no fetch finished for this long; the worker
# looks again at least every 2 s, so they go out within ~3 s of the last fetch.
HOLDERS_QUIET_S = 1.0


class MatrixFederationTransport:
    """``FederationTransport``: sends to every federation room."""

    def __init__(self, api: MatrixApi, rooms: list[str], withdraws: bool = True) -> None:
        self._api = api
        self.rooms = rooms
        # When the chat bot shares this account it withdraws a taken-down track in every room
        # it is in, federation rooms included (bots/matrix/part.py); then this does not repeat it.
        self.withdraws = withdraws

    async def upload(self, path: Path, media_type: str, size: int) -> str:
        try:
            return await self._api.upload(path, media_type, size)
        except MatrixError as error:
            raise _lasting(error) from error

    async def send(self, event_type: str, content: Mapping[str, Any]) -> str:
        event_id = ""
        for room_id in self.rooms:
            try:
                event_id = await self._api.send(room_id, event_type, content)
            except MatrixError as error:
                raise _lasting(error) from error
        return event_id

    async def put_state(self, event_type: str, state_key: str, content: Mapping[str, Any]) -> None:
        for room_id in self.rooms:
            await self._api.put_state(room_id, event_type, state_key, content)

    async def withdraw(self, track_id: str, cid: str, reason: str | None) -> None:
        if not self.withdraws:
            return
        why = f"taken down: {reason}" if reason else "taken down"
        try:  # the tombstone is out: a redaction that fails is logged, not retried with it
            report = await withdraw_track(self._api, list(self.rooms), track_id, cid, why)
        except Exception as error:
            log.warning("takedown of %s: could not withdraw it from the federation rooms: %s", track_id, error)
            return
        level = logging.WARNING if report.media_kept or report.problems else logging.INFO
        log.log(level, "takedown of %s in the federation rooms: %s", track_id, report.summary())


# Refusals that sending the same item again cannot fix; 429 (rate limited), 401 (token) and
# 5xx pass, and hold the outbox in order until they do.
LASTING_STATUSES = frozenset({400, 403, 404, 413})


def _lasting(error: MatrixError) -> Exception:
    """A refusal for good becomes ``LastingSendError`` (the item is parked); others stay as they are."""
    return LastingSendError(str(error)) if error.status in LASTING_STATUSES else error


async def open_api(instance: Instance, keeper: SessionKeeper | None = None) -> MatrixApi:
    """The federation's Matrix client: the instance's one kept session (see ``matrix_session``)."""
    keeper = keeper or SessionKeeper(instance.settings.matrix, instance.data_dir)
    session = await keeper.session()
    return MatrixApi(session.homeserver, session.access_token, session.user_id, renew=keeper.renew)


# The federation runner of each instance running in this process (by data directory), so a
# command that arrives through the control socket acts on it at once.
_LIVE: dict[Path, FederationRunner] = {}


def live_runner(instance: Instance) -> FederationRunner | None:
    """The running federation of this instance, when it runs in this process."""
    return _LIVE.get(instance.data_dir.resolve())


def build_replicator(
    instance: Instance, api: MatrixApi, transport: FederationTransport, on_queued: Callable[[], None]
) -> Replicator:
    """The replicator of an instance, wired to its storage and the Matrix account."""
    settings = instance.settings
    fed = settings.federation
    policy = FederationPolicy(
        accept_verdicts=fed.accept_verdicts,
        accept_genres=fed.accept_genres,
        max_track_bytes=int(fed.max_track_mb * 1024 * 1024),
        quota_bytes=int(fed.quota_gb * 1024**3),
        blocked=fed.blocked_instances,
        receive=settings.curation.receive,
        receive_min_boosts=settings.curation.receive_min_boosts,
    )
    return Replicator(
        signer=instance.identity,
        name=settings.instance.name,
        community=settings.instance.community,
        homepage=settings.http.public_url or "",
        user_id=api.user_id,
        store=SqliteFederationStore(instance.db),
        tracks=instance.app.tracks,
        pool=instance.app.pool,
        clock=instance.app.clock,
        policy=policy,
        sources=MatrixBlobSource(api, settings.links, settings.links.pinned_hosts or None),
        verify=verify_signature,
        id_for_key=instance_id_for,
        events=instance.events,
        public_url=settings.http.public_url,
        transport=transport,
        on_queued=on_queued,
        curation=curated_federation(instance),
    )


class FederationRunner:
    """Everything federation does while the instance runs."""

    def __init__(self, instance: Instance, api: MatrixApi, rooms: list[str], shared_sync: bool = False) -> None:
        self.instance = instance
        self.api = api
        self.shared_sync = shared_sync  # the chat bot's sync feeds the reader (one sync per account)
        self._wake = asyncio.Event()
        self._rooms_changed = asyncio.Event()
        self._gaps: set[str] = set()  # rooms whose last shared-sync batch failed
        self.transport = MatrixFederationTransport(api, rooms, withdraws=not shared_sync)
        self.replicator = build_replicator(instance, api, self.transport, self.wake)
        self.rounds = build_round_exchange(instance, self.replicator, api)
        self.reader = RoomReader(api, self.replicator, instance.state, rooms, instance.db, self.rounds)
        self.joined = False  # rooms joined and this instance's key published
        self.waiting: list[str] = []  # rooms that could not be joined yet (retried)
        self.start_backoff = Backoff(2.0, 300.0)  # joining the rooms; its last problem shows in /healthz

    def wake(self) -> None:
        """Run the worker now (new work arrived)."""
        self._wake.set()

    async def join_rooms(self) -> None:
        """Join the rooms (ids or aliases) and publish this instance's key in each.

        A room that cannot be joined yet (an alias nobody created yet, an invite still to
        come) waits: ``retry_waiting`` tries it again, and ``federation status`` lists it."""
        await self._publish_keys(await self._join())

    async def _join(self) -> list[str]:
        """Join the configured and waiting rooms; the rooms whose key is to be published now."""
        joined: list[str] = []
        waiting: list[str] = []
        for room in [*self.transport.rooms, *self.waiting]:
            try:
                joined.append(await self.api.join(room))
            except MatrixError as error:
                log.warning("cannot join federation room %s yet: %s; will retry", room, error)
                waiting.append(room)
        joined = list(dict.fromkeys(joined))  # an alias and the id it names are one room: read and write it once
        new = [room_id for room_id in joined if room_id not in self.transport.rooms]
        self.transport.rooms[:] = joined
        self.reader.rooms[:] = joined
        self.waiting = list(dict.fromkeys(waiting))
        await self.instance.state.put(NAMESPACE, "waiting", json.dumps(self.waiting))
        if new:
            self._rooms_changed.set()
        return joined if not self.joined else new  # the first time, every room; later, the new ones

    async def _publish_keys(self, fresh: list[str]) -> None:
        """Publish this instance's key in the rooms just joined (and read them, on a shared sync)."""
        for room_id in fresh:
            try:
                await self.api.put_state(room_id, INSTANCE_EVENT, self.api.user_id, self.replicator.instance_state())
            except MatrixError as error:
                log.error(
                    "cannot publish this instance's key in %s (%s); the room's power levels must let "
                    "members send %s state events (see docs/FEDERATION.md)",
                    room_id,
                    error,
                    INSTANCE_EVENT,
                )
        self.joined = self.joined or bool(self.transport.rooms)
        if self.shared_sync:
            # No sync of its own reports a newly joined room, and the chat bot's syncs before
            # this point were not read: read each room from its latest event back now.
            for room_id in fresh:
                await self._catch_up(room_id)

    async def _catch_up(self, room_id: str) -> None:
        try:
            await self.reader.catch_up(room_id)
        except Exception:  # the next gap or restart reads it again
            log.exception("could not read %s after joining it", room_id)
        self.wake()

    async def add_room(self, room: str) -> str:
        """Join a room (alias or id) while running: read and written at once; its id.

        Kept in the instance's state so the next start joins it too."""
        room_id = await self.api.join(room)
        if room_id not in self.transport.rooms:
            self.transport.rooms.append(room_id)
            self.reader.rooms.append(room_id)
            self.waiting = [r for r in self.waiting if r != room]
            await self.api.put_state(room_id, INSTANCE_EVENT, self.api.user_id, self.replicator.instance_state())
            self.joined = True
            self._rooms_changed.set()
            await self._catch_up(room_id)
        await remember_room(self.instance, room, room_id)
        return room_id

    async def remove_room(self, room: str) -> str:
        """Leave a room (alias or id) while running; its id."""
        room_id = await resolve_room(self.api, room)
        for rooms in (self.transport.rooms, self.reader.rooms):
            if room_id in rooms:
                rooms.remove(room_id)
        with contextlib.suppress(MatrixError):
            await self.api.leave(room_id)
        await forget_room(self.instance, room, room_id)
        return room_id

    async def feed(self, rooms: Mapping[str, RoomBatch]) -> None:
        """Handle the federation rooms' part of the chat bot's sync (the shared connection)."""
        if not self.joined:
            return  # joining reads each room from its latest event back
        for room_id, batch in rooms.items():
            if room_id not in self.reader.rooms:
                continue
            if room_id in self._gaps:  # a batch failed earlier: page back over it this time
                batch = replace(batch, limited=True)
            try:
                await self.reader.handle_room(room_id, batch)
                self._gaps.discard(room_id)
            except Exception as error:  # the chat bot's sync moves on regardless: remember the gap
                self._gaps.add(room_id)
                log.warning("federation room %s: %s; read again with the next sync", room_id, error)
        self.wake()

    async def retry_waiting(self) -> None:
        """Try the rooms not joined yet again, with backoff, until every one is joined."""
        backoff = Backoff(5.0, 300.0)
        while self.waiting:
            await asyncio.sleep(backoff.delay)
            backoff.delay = min(300.0, backoff.delay * 2)
            try:
                await self.join_rooms()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the homeserver is down: the next round tries again
                log.warning("retrying federation rooms: %s", error)
        log.info("every federation room is joined")

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
            if not self.reader.rooms:  # nothing to read until a room is joined
                self._rooms_changed.clear()
                await wait_until_set(self._rooms_changed, 5.0)
                continue
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
        loop = asyncio.get_running_loop()
        fetched_at = -HOLDERS_QUIET_S
        while True:
            self._wake.clear()
            try:
                # Fetch first: re-uploading blobs for `have` announcements competes with
                # downloads for the homeserver, and is the less urgent of the two.
                while await self.replicator.run_queue():
                    fetched_at = loop.time()
                # ... and waits until this instance has fetched nothing for a while: peers that
                # fetch the same new track from the same homeserver finish before it serves our copy.
                await self.replicator.flush_outbox(holders=loop.time() - fetched_at >= HOLDERS_QUIET_S)
                if self.rounds is not None:
                    await send_round_documents(self.rounds, self.api)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("federation worker: %s", error)
            await wait_until_set(self._wake, 2.0)

    async def run(self) -> None:
        """Join, then read and work until cancelled; a failed start is retried with backoff.

        Reading starts as soon as the rooms are joined, while the key is published (reading
        needs no key; publishing, the outbox, waits for it in ``work_forever``)."""
        reading: asyncio.Future[None] | None = None
        try:
            fresh = await self._start(self._join)
            if not self.shared_sync:
                reading = asyncio.ensure_future(self.read_forever())
            await self._start(lambda: self._publish_keys(fresh))
            await asyncio.gather(*(() if reading is None else (reading,)), self.work_forever(), self.retry_waiting())
        finally:
            if reading is not None:
                reading.cancel()
                await asyncio.gather(reading, return_exceptions=True)
            await self.api.close()

    async def _start(self, step: Callable[[], Awaitable[T]]) -> T:
        """A start-up step, retried with backoff until it succeeds."""
        while True:
            try:
                result = await step()
                self.start_backoff.reset()
                return result
            except asyncio.CancelledError:
                raise
            except Exception as error:
                await self.start_backoff.wait(log, "federation start", error)


class FederationPart:
    """Federation while the instance runs: logs in (retrying with backoff), joins the rooms,
    reads and works; and, as the outbox's federation subscriber, queues what to publish."""

    def __init__(self, instance: Instance, keeper: SessionKeeper | None = None, shared_sync: bool = False) -> None:
        self._instance = instance
        self._keeper = keeper or SessionKeeper(instance.settings.matrix, instance.data_dir)
        self.shared_sync = shared_sync
        self.publisher = FederationPublisher(
            SqliteFederationStore(instance.db),
            instance.app.tracks,
            instance.identity.instance_id,
            instance.app.digest,
            curated_federation(instance),
        )
        self.runner: FederationRunner | None = None
        self._login = Backoff(2.0, 300.0)

    @property
    def name(self) -> str:
        """The subscriber's name (its checkpoint key)."""
        return self.publisher.name

    backlog: timedelta | None = None
    transactional = True

    def ready(self) -> bool:
        """Always: publishing only queues into the federation outbox."""
        return True

    def health(self) -> str:
        """``ok`` once logged in with the rooms joined, else what is wrong (for /healthz)."""
        if self.runner is not None:
            idle = not self.runner.transport.rooms and not self.runner.waiting  # no room yet: nothing is wrong
            return "ok" if self.runner.joined or idle else self.runner.start_backoff.problem or "joining the rooms"
        return self._login.problem or "connecting"

    async def deliver(self, event: RecordedEvent) -> None:
        """Queue what the event means for the peers, and wake the worker."""
        await self.publisher.deliver(event)
        if self.runner is not None:
            self.runner.wake()

    async def run(self) -> None:
        """Log in and join (with backoff while the homeserver is down), then read and work."""
        instance = self._instance
        matrix = instance.settings.matrix
        while True:
            try:
                api = await open_api(instance, self._keeper)
                self._login.reset()
                break
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a homeserver that is down, or refuses the login: say so, retry
                await self._login.wait(log, f"federation login to {matrix.homeserver}", error)
        rooms = await federation_rooms(instance)
        if not rooms:
            log.info("federation waiting: no rooms yet (`wavepool federation join|create` adds one at once)")
        self.runner = FederationRunner(instance, api, rooms, self.shared_sync)
        _LIVE[instance.data_dir.resolve()] = self.runner
        log.info(
            "federation on: %d room(s) as %s (%s)%s",
            len(rooms),
            api.user_id,
            instance.identity.instance_id,
            ", reading through the chat bot's sync" if self.shared_sync else "",
        )
        try:
            await self.runner.run()
        finally:
            _LIVE.pop(instance.data_dir.resolve(), None)
            self.runner = None

    async def feed(self, rooms: Mapping[str, RoomBatch]) -> None:
        """The chat bot's sync, for the federation rooms (when both share one connection)."""
        if self.runner is not None:
            await self.runner.feed(rooms)


def federates(instance: Instance) -> bool:
    """Whether this instance has a Matrix account to federate with (rooms may come later)."""
    matrix = instance.settings.matrix
    if not matrix.homeserver or not matrix.user_id:
        if instance.settings.federation.rooms:
            log.warning("federation rooms are configured but no Matrix account: federation is off")
        return False
    return True

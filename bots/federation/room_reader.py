"""Reading federation rooms: live sync plus history backfill, each event handled once.

Every sync (the first one included) may return a ``limited`` timeline; the reader then
pages backwards from ``prev_batch`` until it meets an event it already processed (or the
start of the room, or the event a loaded snapshot covers up to) and handles the gap in
order. The sync token is saved after each batch is handled, so a restart neither misses
nor replays anything.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bots.federation.matrix_api import MatrixApi, MatrixError
from core.federation.event_types import ROUND_EVENT_TYPES
from core.federation.outcomes import OutcomeKind
from core.federation.page_intake import TrackEvent
from core.federation.replication import (
    BOOST_EVENT,
    DIGEST_EVENT,
    HAVE_EVENT,
    INSTANCE_EVENT,
    SNAPSHOT_STATE,
    TOMBSTONE_EVENT,
    TRACK_EVENT,
    Replicator,
)
from core.federation.round_exchange import RoundExchange
from core.model import Cid
from storage.sqlite.bot_state import BotState
from storage.sqlite.database import Database

log = logging.getLogger(__name__)

NAMESPACE = "federation"
MAX_BACKFILL_PAGES = 20_000  # 2,000,000 events even from a server that serves 100 a page
# Synapse serves up to 1,000 events a page: a new instance reading a room of 200 tracks asks
# once instead of three times (each page ~30 ms of the homeserver's time before any fetch starts).
# A gap in a room read before starts with a small page (it usually ends within it) and grows.
PAGE = 1000
GAP_PAGE = 100
MODERATOR_LEVEL = 50
BATCH = 50
TYPES = [
    INSTANCE_EVENT,
    TRACK_EVENT,
    HAVE_EVENT,
    TOMBSTONE_EVENT,
    DIGEST_EVENT,
    BOOST_EVENT,
    SNAPSHOT_STATE,
    "m.room.redaction",
    "m.room.power_levels",
    *ROUND_EVENT_TYPES,
]


def sync_filter(rooms: Sequence[str], timeline_limit: int) -> str:
    """The federation's sync filter: its rooms, the event types it reads, and nothing else.

    Presence, account data, ephemeral events (typing, receipts) and every other room are left
    out, and of the room state only what the reader uses: the homeserver builds less for each
    wake-up. Members are lazy-loaded (none is needed: the senders' keys are state events)."""
    return json.dumps(
        {
            "room": {
                "rooms": list(rooms),
                "timeline": {"limit": timeline_limit, "types": TYPES},
                "state": {
                    "types": [INSTANCE_EVENT, SNAPSHOT_STATE, "m.room.power_levels"],
                    "lazy_load_members": True,
                },
                "ephemeral": {"types": []},
                "account_data": {"types": []},
            },
            "presence": {"types": []},
            "account_data": {"types": []},
        },
        sort_keys=True,
    )


@dataclass(frozen=True)
class RoomBatch:
    """What one sync carried for one room: raw state and timeline events, and whether it has a gap."""

    state: Sequence[Mapping[str, Any]]
    events: Sequence[Mapping[str, Any]]
    limited: bool
    prev_batch: str | None


def batches_from_sync(data: Mapping[str, Any]) -> dict[str, RoomBatch]:
    """The joined rooms of a raw ``/sync`` answer."""
    out: dict[str, RoomBatch] = {}
    for room_id, room in (data.get("rooms", {}).get("join") or {}).items():
        timeline = room.get("timeline") or {}
        out[room_id] = RoomBatch(
            list(room.get("state", {}).get("events") or ()),
            list(timeline.get("events") or ()),
            bool(timeline.get("limited")),
            timeline.get("prev_batch"),
        )
    return out


class RoomReader:
    """Feeds a ``Replicator`` from the federation rooms."""

    def __init__(
        self,
        api: MatrixApi,
        replicator: Replicator,
        state: BotState,
        rooms: Sequence[str],
        db: Database,
        rounds: RoundExchange | None = None,
    ) -> None:
        self._rounds = rounds  # cross-community rounds' events go there
        self._api = api
        self._replicator = replicator
        self._state = state
        self.rooms = list(rooms)
        self._store = replicator.store
        self._db = db
        self._lock = asyncio.Lock()  # a sync and a catch-up of the same room never interleave
        self.use_snapshots = True
        self._since: str | None = None  # the saved sync token, kept here once read
        self._read: set[str] = set()  # rooms whose first read is done (also kept in the state)
        # Uploaded sync filters by their JSON (the room list changes when rooms are joined or
        # left); None once the homeserver refused one: then syncs go without a filter.
        self._filters: dict[str, str] | None = {}

    def _filter(self, first: bool = False) -> str:
        """The sync filter: the federation rooms only, the event types read, nothing else.

        The first sync of an instance asks for one timeline event a room: the history behind
        it is read in pages of ``PAGE`` (the gap of a limited timeline), so a full first sync
        would only make the homeserver serialize 100 events twice."""
        return sync_filter(self.rooms, 1 if first else 100)

    async def sync_once(self, timeout_ms: int) -> None:
        """One sync round of the federation's own sync: handle what arrived, then save the sync token."""
        if self._since is None:
            self._since = await self._state.get(NAMESPACE, "since")
        since = self._since
        data = await self._sync(since, timeout_ms, self._filter(first=since is None), once=since is None)
        await self.handle_rooms(batches_from_sync(data))
        await self._state.put(NAMESPACE, "since", data["next_batch"])
        self._since = str(data["next_batch"])

    async def _sync(self, since: str | None, timeout_ms: int, wanted: str, once: bool = False) -> dict[str, Any]:
        """One ``/sync`` with the filter uploaded once (by id); without it if the homeserver refuses it.

        ``once``: a filter used for one sync only (an instance's first) goes in the request
        itself: uploading it would be one more call before the first events arrive.

        A homeserver that cannot take the filter still serves every room and event type:
        ``handle_rooms`` keeps the federation rooms and ``_handle`` the types it reads, so
        nothing is missed, each sync only carries more. A kept filter id the homeserver no
        longer knows (400 "no such filter") is uploaded again first."""
        refused: MatrixError | None = None
        while self._filters is not None:
            filter_id = self._filters.get(wanted)
            fresh = filter_id is None
            try:
                if filter_id is None and once:
                    return await self._api.sync(since, timeout_ms, wanted)
                if filter_id is None:
                    filter_id = await self._api.upload_filter(wanted)
                    self._filters[wanted] = filter_id
                return await self._api.sync(since, timeout_ms, filter_id)
            except MatrixError as error:
                if error.status != 400:
                    raise  # passing trouble (homeserver down, token): the caller backs off and retries
                self._filters.pop(wanted, None)
                if fresh:
                    refused = error
                    break
        if refused is not None:
            log.warning(
                "the homeserver refused the federation's sync filter (%s); syncing without one from now on: "
                "each sync carries every joined room and event type, and the reader keeps what it reads",
                refused,
            )
            self._filters = None
        return await self._api.sync(since, timeout_ms, None)

    async def handle_rooms(self, rooms: Mapping[str, RoomBatch]) -> None:
        """Handle one sync's batches of the federation rooms (other rooms are skipped)."""
        for room_id, batch in rooms.items():
            if room_id in self.rooms:
                await self.handle_room(room_id, batch)

    async def catch_up(self, room_id: str) -> None:
        """Read what was not handled yet of a room, from its latest event back (a room just joined)."""
        await self.handle_room(room_id, RoomBatch((), (), True, None))

    async def handle_room(self, room_id: str, batch: RoomBatch) -> None:
        """Handle a room's batch: a peer's newer snapshot first, then the gap, then the timeline."""
        async with self._lock:
            for event in batch.state:
                await self._handle(room_id, event)
            events = [e for e in batch.events if isinstance(e, Mapping)]
            first = room_id not in self._read and not await self._state.get(NAMESPACE, f"room:{room_id}:read")
            if not first:
                self._read.add(room_id)
            if first or batch.limited:
                await self._use_snapshot(room_id, first)
            if batch.limited:
                events = await self._backfill(room_id, batch.prev_batch, first) + events
            boundary = await self._state.get(NAMESPACE, f"room:{room_id}:snapshot_until")
            ids = [e.get("event_id") for e in events]
            if boundary and boundary in ids:
                events = events[ids.index(boundary) + 1 :]  # the snapshot covers these
            for start in range(0, len(events), BATCH):
                # One commit per batch instead of several per event; a crash rolls the batch back
                # and, the sync token being saved after it, the batch is read again.
                async with self._db.transaction():
                    page = events[start : start + BATCH]
                    await self._handle_batch(room_id, page)
                    # Every handled id is remembered, so "is a snapshot newer than what was read?"
                    # is one lookup of its last event id.
                    await self._store.mark_seen_many([str(e.get("event_id", "")) for e in page])
                    if start + BATCH >= len(events):  # the last batch: where the room was read up to
                        await self._read_up_to(room_id, str(events[-1].get("event_id")))
            if first and not events:
                await self._state.put(NAMESPACE, f"room:{room_id}:at", datetime.now(UTC).isoformat())

    async def _read_up_to(self, room_id: str, event_id: str) -> None:
        """The room's last handled event and when (in the batch's transaction: they commit with it)."""
        await self._state.put(NAMESPACE, f"room:{room_id}:last", event_id)
        await self._state.put(NAMESPACE, f"room:{room_id}:at", datetime.now(UTC).isoformat())

    async def _use_snapshot(self, room_id: str, first: bool) -> None:
        """Load the largest peer snapshot that is newer than what this instance has read.

        On the first read of a room and after a gap. A snapshot whose last event was handled
        here already adds nothing; one that is newer replaces paging through the history it
        covers, whether or not the sync's timeline was limited (a small room reaches the same
        state either way). Which path was taken is kept for ``federation status``."""
        await self._state.put(NAMESPACE, f"room:{room_id}:read", "1")
        self._read.add(room_id)
        path: dict[str, Any] = {"path": "history"}
        try:
            state = await self._api.state(room_id) if self.use_snapshots or first else []
        except Exception:
            log.exception("could not read the state of %s", room_id)
            state = []
        for event in state:
            if event.get("type") == INSTANCE_EVENT:
                await self._handle(room_id, event)
        snapshots = [
            e
            for e in state
            if self.use_snapshots
            and e.get("type") == SNAPSHOT_STATE
            and e.get("state_key") == e.get("sender")
            and e.get("sender") != self._api.user_id
        ]
        snapshots.sort(key=lambda e: -int((e.get("content") or {}).get("count") or 0))
        for event in snapshots:
            content = event.get("content") or {}
            cid, mxc, last = content.get("cid"), content.get("mxc"), content.get("last_event_id")
            if not (isinstance(cid, str) and isinstance(mxc, str)):
                continue
            if isinstance(last, str) and await self._store.seen(last):
                continue  # read past it already: nothing newer in it
            try:
                taken = await self._replicator.load_snapshot(Cid(cid), {"mxc": mxc})
            except Exception as error:
                log.warning("snapshot %s of %s unusable: %s", cid, event.get("sender"), error)
                continue
            log.info("loaded snapshot %s from %s in %s: %d entries", cid, event.get("sender"), room_id, taken)
            if isinstance(last, str):
                await self._state.put(NAMESPACE, f"room:{room_id}:snapshot_until", last)
            path = {"path": "snapshot", "cid": cid, "from": event.get("sender"), "entries": taken}
            break
        if first or path["path"] == "snapshot":
            await self._state.put(NAMESPACE, f"room:{room_id}:path", json.dumps(path))

    async def _backfill(self, room_id: str, token: str | None, first: bool = False) -> list[dict[str, Any]]:
        """Events before ``token`` (or the latest, with None) not handled yet, oldest first.

        ``first``: the room was never read, so nothing will stop the paging early."""
        boundary = await self._state.get(NAMESPACE, f"room:{room_id}:snapshot_until")
        gathered: list[dict[str, Any]] = []
        start: str | None = token
        size = PAGE if first else GAP_PAGE
        for _page in range(MAX_BACKFILL_PAGES):
            page = await self._api.messages(room_id, start, "b", size)
            size = PAGE
            chunk = page.get("chunk") or []
            stop = False
            handled = await self._store.seen_many([str(e.get("event_id", "")) for e in chunk])  # one read a page
            for event in chunk:
                event_id = event.get("event_id", "")
                if event_id == boundary or event_id in handled:
                    stop = True
                    break
                if event.get("type") in TYPES:
                    gathered.append(event)
            end = page.get("end")
            if stop or not chunk or not end or end == start:
                break
            start = end
        gathered.reverse()
        return gathered

    async def _handle_batch(self, room_id: str, events: Sequence[Mapping[str, Any]]) -> None:
        """Handle events in order; a run of track events goes to the replicator as one page."""
        run: list[TrackEvent] = []
        for event in events:
            if event.get("type") == TRACK_EVENT:
                server_ts = event.get("origin_server_ts")  # issue 12: settles first sharer across instances
                content = event.get("content")
                run.append(
                    TrackEvent(
                        str(event.get("event_id", "")),
                        str(event.get("sender", "")),
                        content if isinstance(content, Mapping) else {},
                        server_ts if isinstance(server_ts, int) else None,
                    )
                )
                continue
            await self._handle_tracks(run)
            run = []
            await self._handle(room_id, event)
        await self._handle_tracks(run)

    async def _handle_tracks(self, run: Sequence[TrackEvent]) -> None:
        if not run:
            return
        # A database error raises: the batch's transaction rolls back and it is read again.
        outcomes = await self._replicator.handle_tracks(run)
        if log.isEnabledFor(logging.DEBUG):
            for event, outcome in zip(run, outcomes, strict=True):
                log.debug("track event %s from %s: %s", event.event_id, event.sender, outcome)

    async def _handle(self, room_id: str, event: Mapping[str, Any]) -> None:
        event_type = event.get("type")
        event_id = str(event.get("event_id", ""))
        sender = str(event.get("sender", ""))
        content = event.get("content") or {}
        replicator = self._replicator
        try:
            if event_type == INSTANCE_EVENT:
                await replicator.handle_instance(sender, str(event.get("state_key", "")), content)
            elif event_type == TRACK_EVENT:
                server_ts = event.get("origin_server_ts")  # issue 12: settles first sharer across instances
                outcome = await replicator.handle_track(
                    event_id, sender, content, server_ts if isinstance(server_ts, int) else None
                )
                log.debug("track event %s from %s: %s", event_id, sender, outcome)
            elif event_type == HAVE_EVENT:
                await replicator.handle_have(event_id, sender, content)
            elif event_type == BOOST_EVENT:  # issue 17
                outcome = await replicator.handle_boost(event_id, sender, content)
                log.debug("boost event %s from %s: %s", event_id, sender, outcome)
            elif event_type == TOMBSTONE_EVENT:
                moderator = await self._api.power_level(room_id, sender) >= MODERATOR_LEVEL
                outcome = await replicator.handle_tombstone(event_id, sender, content, moderator)
                # A tombstone before its track (or one seen again) is a normal race, not news.
                quiet = outcome.kind in (OutcomeKind.NOTHING, OutcomeKind.DUPLICATE, OutcomeKind.OWN)
                log.log(logging.DEBUG if quiet else logging.INFO, "tombstone %s from %s: %s", event_id, sender, outcome)
            elif event_type == "m.room.redaction":
                redacts = event.get("redacts") or content.get("redacts")
                if isinstance(redacts, str) and await self._store.mark_seen(event_id):
                    moderator = await self._api.power_level(room_id, sender) >= MODERATOR_LEVEL
                    await replicator.handle_redaction(redacts, sender, moderator)
            elif event_type in ROUND_EVENT_TYPES and self._rounds is not None:
                said = await self._rounds.handle(room_id, event)
                log.info("round event %s (%s) from %s: %s", event_id, event_type, sender, said)
            elif event_type == DIGEST_EVENT:
                peer = await replicator.handle_digest(sender, content)
                if peer is not None:
                    await self._state.put(NAMESPACE, f"digest:{peer.instance_id}", json.dumps(content))
        except Exception:  # one bad event must not stop the room
            log.exception("federation event %s (%s) from %s failed", event_id, event_type, sender)

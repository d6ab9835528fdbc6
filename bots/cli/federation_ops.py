"""``wavepool federation status|create|retry|drop``: what an operator runs to set up and unjam
federation. Inside the running instance (control socket) they act on its federation at once."""

from __future__ import annotations

import argparse
import json

from bots.cli.output import Output
from bots.federation.matrix_api import MatrixApi
from bots.federation.part import live_runner, open_api
from bots.federation.room_reader import NAMESPACE
from bots.federation.room_setup import create_federation_room
from bots.federation.rooms import federation_rooms, remember_room, resolve_room
from bots.federation.status_report import render_status, status_report
from bots.instance import Instance
from core.errors import UsageError
from core.model import TrackId
from storage.sqlite.federation_store import SqliteFederationStore


async def status(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """Per room, the fetch queue by state, the outbox, parked items, rate-limit exemption."""
    runner = live_runner(instance)
    api: MatrixApi | None = None
    close = False
    if runner is not None:
        api, rooms, waiting = runner.api, list(runner.transport.rooms), list(runner.waiting)
    else:
        waiting = json.loads(await instance.state.get(NAMESPACE, "waiting") or "[]")
        rooms = await federation_rooms(instance)
        if instance.settings.matrix.homeserver and instance.settings.matrix.user_id:
            try:
                api, close = await open_api(instance), True
                rooms = list(dict.fromkeys([await resolve_room(api, r) for r in rooms if r not in waiting]))
            except Exception as error:  # the homeserver is down: show what storage knows
                io.err(f"note: the homeserver could not be asked: {error}")
    try:
        report = await status_report(instance, rooms, waiting, api)
    finally:
        if close and api is not None:
            await api.close()
    report["running"] = runner is not None
    if getattr(args, "json", False):
        io.out(json.dumps(report, indent=2, default=str))
        return 0
    for line in render_status(report):
        io.out(line)
    return 0


async def create(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """Create a federation room, join it here, and say what to tell the peers."""
    runner = live_runner(instance)
    api = runner.api if runner is not None else await open_api(instance)
    try:
        room = await create_federation_room(
            api, args.alias, args.name or "Wavepool federation", args.public, tuple(args.invite)
        )
        if runner is not None:
            await runner.add_room(room.room_id)
            where = "replicated by the running instance now"
        else:
            await remember_room(instance, room.alias, room.room_id)
            where = "replicated from the next `wavepool run`"
    finally:
        if runner is None:
            await api.close()
    io.out(f"created {room.alias} ({room.room_id}); {where}")
    io.out("tell each peer community's operator:")
    if room.public:
        io.out(f"  wavepool federation join '{room.alias}'")
    else:
        invited = ", ".join(room.invited) or "nobody yet"
        io.out(f"  (invited: {invited}; invite more from any Matrix client: /invite @bot:their.server)")
        io.out(f"  once invited: wavepool federation join '{room.alias}'   (or the id {room.room_id})")
    io.out("  and make sure their bot account is exempt from their homeserver's rate limits (see status)")
    return 0


async def retry_or_drop(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """Put parked items back in line (``retry``) or forget one (``drop``)."""
    store = SqliteFederationStore(instance.db)
    item = str(args.item).strip()
    retry = args.federation_command == "retry"
    if item == "all":
        if not retry:
            raise UsageError("drop takes one item: an outbox number, or a track id or CID")
        sent, fetched = await store.outbox_retry(None), await store.retry_fetches(None)
        io.out(f"{sent} outbox item(s) and {fetched} fetch(es) back in line")
    elif item.isdigit():
        done = await store.outbox_retry(int(item)) if retry else int(await store.outbox_drop(int(item)))
        if not done:
            raise UsageError(f"no parked outbox item {item} (see `wavepool federation status`)")
        io.out(f"outbox item {item} {'back in line' if retry else 'dropped'}")
    else:
        matches = [
            i for i in await store.parked_fetches(100_000) if i.track_id.startswith(item) or i.cid.startswith(item)
        ]
        if len(matches) != 1:
            found = "nothing parked" if not matches else f"{len(matches)} parked fetches"
            raise UsageError(f"{item!r} matches {found} (see `wavepool federation status`)")
        track_id = TrackId(matches[0].track_id)
        if retry:
            await store.retry_fetches(track_id)
        else:
            await store.drop_fetch(track_id)
        io.out(f"fetch of {track_id} ({matches[0].cid}) {'back in line' if retry else 'dropped'}")
    runner = live_runner(instance)
    if runner is not None:
        runner.wake()
    return 0

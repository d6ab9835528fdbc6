"""``wavepool peers`` and ``wavepool federation join|leave|status|snapshot``."""

from __future__ import annotations

import argparse
import json

from bots.cli.output import Output
from bots.federation.matrix_api import MatrixError
from bots.federation.part import FederationRunner, federation_rooms, open_api
from bots.federation.room_reader import NAMESPACE
from bots.instance import Instance
from core.errors import ConfigError
from storage.sqlite.federation_store import SqliteFederationStore


def _need_matrix(instance: Instance) -> None:
    matrix = instance.settings.matrix
    if not matrix.homeserver or not matrix.user_id:
        raise ConfigError("federation needs a Matrix account: set [matrix] homeserver, user_id and a token")


async def peers(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """Instances seen in the federation rooms."""
    settings = instance.settings
    stats = await SqliteFederationStore(instance.db).peer_stats()
    if args.json:
        io.out(
            json.dumps(
                [
                    {
                        "instance": s.peer.instance_id,
                        "name": s.peer.name,
                        "user": s.peer.user_id,
                        "trusted": s.peer.instance_id not in settings.federation.blocked_instances
                        and s.peer.user_id not in settings.federation.blocked_instances,
                        "last_seen": s.peer.last_seen.isoformat() if s.peer.last_seen else None,
                        "entries": s.entries,
                        "bytes": s.bytes,
                    }
                    for s in stats
                ],
                indent=2,
            )
        )
        return 0
    if not stats:
        io.out("no peers seen yet")
    for s in stats:
        blocked = s.peer.instance_id in settings.federation.blocked_instances
        seen = f"{s.peer.last_seen:%Y-%m-%d %H:%M}" if s.peer.last_seen else "never"
        io.out(
            f"{s.peer.name:<20} {s.peer.instance_id:<22} {s.peer.user_id:<30} "
            f"{'blocked' if blocked else 'trusted':<8} last seen {seen}  "
            f"{s.entries} entries, {s.bytes / 1048576:.1f} MB"
        )
    return 0


async def federation(args: argparse.Namespace, instance: Instance, io: Output) -> int:
    """join / leave / status / snapshot."""
    settings = instance.settings
    state = instance.state
    if args.federation_command == "status":
        store = SqliteFederationStore(instance.db)
        rooms = await federation_rooms(instance)
        io.out(f"instance {instance.identity.instance_id} ({settings.instance.name})")
        io.out(f"rooms: {', '.join(rooms) or 'none'}")
        io.out(f"checkpoint (sync token): {await state.get(NAMESPACE, 'since') or 'none yet'}")
        io.out(f"fetch queue: {await store.queue_size()} pending; outbox: {len(await store.outbox_pending(1000))}")
        for item in await store.failures(10):
            io.out(f"  failing {item.cid} ({item.attempts} attempts): {item.last_error}")
        return 0
    _need_matrix(instance)
    api = await open_api(instance)
    try:
        if args.federation_command == "snapshot":
            rooms = await federation_rooms(instance)
            runner = FederationRunner(instance, api, rooms)
            await runner.join_rooms()
            content = await runner.publish_snapshot()
            io.out(f"snapshot {content['cid']}: {content['count']} manifests, {content['mxc']}")
            return 0
        room = args.room
        extra = json.loads(await state.get(NAMESPACE, "rooms") or "[]")
        left = json.loads(await state.get(NAMESPACE, "left") or "[]")
        if args.federation_command == "join":
            room_id = await api.join(room)
            extra = [r for r in extra if r not in (room, room_id)] + [room_id]
            left = [r for r in left if r not in (room, room_id)]
            io.out(f"joined {room_id}; the running instance replicates it from its next start")
        else:
            try:
                await api.leave(room)
            except MatrixError as error:
                io.out(f"note: {error}")
            extra = [r for r in extra if r != room]
            left = [*left, room]
            io.out(f"left {room}")
        await state.put(NAMESPACE, "rooms", json.dumps(extra))
        await state.put(NAMESPACE, "left", json.dumps(left))
    finally:
        await api.close()
    return 0

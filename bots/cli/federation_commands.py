"""``wavepool peers`` and ``wavepool federation join|leave|status|snapshot``."""

from __future__ import annotations

import argparse
import json

from bots.cli import federation_ops
from bots.cli.output import Output
from bots.federation.matrix_api import MatrixError
from bots.federation.part import FederationRunner, live_runner, open_api
from bots.federation.rooms import federation_rooms, forget_room, remember_room, resolve_room
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
    """create / join / leave / status / snapshot / retry / drop."""
    command = args.federation_command
    if command == "status":
        return await federation_ops.status(args, instance, io)
    if command in ("retry", "drop"):
        return await federation_ops.retry_or_drop(args, instance, io)
    _need_matrix(instance)
    if command == "create":
        return await federation_ops.create(args, instance, io)
    runner = live_runner(instance)
    if runner is not None:  # the running instance: at once, on its own connection
        if command == "snapshot":
            content = await runner.publish_snapshot()
            io.out(f"snapshot {content['cid']}: {content['count']} manifests, {content['mxc']}")
        elif command == "join":
            room_id = await runner.add_room(args.room)
            io.out(f"joined {room_id}; replicating it now")
        else:
            room_id = await runner.remove_room(args.room)
            io.out(f"left {room_id}")
        return 0
    api = await open_api(instance)  # the kept session: no new device
    try:
        if command == "snapshot":
            rooms = await federation_rooms(instance)
            runner = FederationRunner(instance, api, rooms)
            await runner.join_rooms()
            content = await runner.publish_snapshot()
            io.out(f"snapshot {content['cid']}: {content['count']} manifests, {content['mxc']}")
            return 0
        room = args.room
        if command == "join":
            room_id = await api.join(room)
            await remember_room(instance, room, room_id)
            io.out(f"joined {room_id}; replicated from the next `wavepool run`")
        else:
            try:
                room_id = await resolve_room(api, room)
                await api.leave(room_id)
            except MatrixError as error:
                room_id = room
                io.out(f"note: {error}")
            await forget_room(instance, room, room_id)
            io.out(f"left {room}")
    finally:
        await api.close()
    return 0

"""Which federation rooms an instance is in: the config's, those joined or left with
``wavepool federation``, by alias or id (one room under both names)."""

from __future__ import annotations

import json
import urllib.parse

from bots.federation.matrix_api import MatrixApi
from bots.federation.room_reader import NAMESPACE
from bots.instance import Instance


async def federation_rooms(instance: Instance) -> list[str]:
    """Rooms from config plus those joined with ``wavepool federation join``, minus those left.

    A room left by alias or by id is left under both spellings (``forget_room`` keeps both)."""
    extra = json.loads(await instance.state.get(NAMESPACE, "rooms") or "[]")
    left = set(json.loads(await instance.state.get(NAMESPACE, "left") or "[]"))
    rooms = [r for r in (*instance.settings.federation.rooms, *extra) if r not in left]
    return list(dict.fromkeys(rooms))


async def resolve_room(api: MatrixApi, room: str) -> str:
    """The room id of an alias (``#name:server``); an id as it is."""
    if not room.startswith("#"):
        return room
    data = await api.request("GET", f"/_matrix/client/v3/directory/room/{_quote(room)}")
    return str(data["room_id"])


async def remember_room(instance: Instance, room: str, room_id: str) -> None:
    """Keep a joined room for the next starts (by id: an alias and its id are one room)."""
    state = instance.state
    extra = [r for r in json.loads(await state.get(NAMESPACE, "rooms") or "[]") if r not in (room, room_id)]
    left = [r for r in json.loads(await state.get(NAMESPACE, "left") or "[]") if r not in (room, room_id)]
    await state.put(NAMESPACE, "rooms", json.dumps([*extra, room_id]))
    await state.put(NAMESPACE, "left", json.dumps(left))


async def forget_room(instance: Instance, room: str, room_id: str) -> None:
    """Leave a room for good, under both its alias and its id."""
    state = instance.state
    extra = [r for r in json.loads(await state.get(NAMESPACE, "rooms") or "[]") if r not in (room, room_id)]
    left = list(dict.fromkeys([*json.loads(await state.get(NAMESPACE, "left") or "[]"), room, room_id]))
    await state.put(NAMESPACE, "rooms", json.dumps(extra))
    await state.put(NAMESPACE, "left", json.dumps(left))


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")

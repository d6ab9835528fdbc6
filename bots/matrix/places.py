"""Rooms as moderators name them: ``here``, an alias or an id, checked before they are stored."""

from __future__ import annotations

import logging

import nio

from core.errors import UsageError

log = logging.getLogger(__name__)

HERE = "here"


class MatrixPlaces:
    """Resolves a room a moderator names and refuses one the bot cannot post in."""

    def __init__(self, client: nio.AsyncClient) -> None:
        self._client = client

    async def check(self, place: str, current: str) -> str:
        """The id of a room the bot is in and may post to."""
        text = place.strip()
        if text.lower() == HERE:
            return current
        if text.startswith("#"):
            resolved = await self._client.room_resolve_alias(text)
            if not isinstance(resolved, nio.RoomResolveAliasResponse):
                raise UsageError(f"no room {text}: {getattr(resolved, 'message', 'the alias does not resolve')}")
            room_id = str(resolved.room_id)
        elif text.startswith("!") and len(text) > 1:  # room v12 ids carry no server name
            room_id = text
        else:
            raise UsageError(f"'{place}' is not a room: give `here`, an alias (#name:server) or an id (!id:server)")
        room = self._client.rooms.get(room_id)
        if room is None:
            raise UsageError(f"the bot is not in {text}: invite it there first")
        user = self._client.user_id
        if not room.power_levels.can_user_send_message(user, "m.room.message"):
            raise UsageError(f"the bot may not post in {text}: give it the power to send messages")
        return room_id

    async def name(self, place: str) -> str:
        """``#alias:server`` or the room's name, else its id."""
        room = self._client.rooms.get(place)
        if room is None:
            return place
        return room.canonical_alias or (room.name and f"“{room.name}”") or place

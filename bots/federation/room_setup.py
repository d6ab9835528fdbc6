"""Creating a federation room the way every member instance needs it (``wavepool federation create``).

* ``org.wavepool.instance`` and ``org.wavepool.snapshot`` state at power level 0: every
  member publishes its own key and snapshots (state events need 50 by default, and Matrix
  lets a user set only the state whose key is its own user id, so level 0 lets nobody
  overwrite another instance's key).
* ``org.wavepool.*`` timeline events at the default level 0; moderation (redactions,
  kicks, tombstones of others' tracks) stays at 50.
* ``history_visibility: shared``: a member that joins later pages the whole history.
* Join rule ``invite`` by default (the room's moderators invite each peer's bot account),
  ``public`` with ``--public`` (any account on a federating homeserver can join by alias).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bots.federation.matrix_api import MatrixApi, MatrixError
from core.errors import UsageError
from core.federation.replication import INSTANCE_EVENT, SNAPSHOT_STATE

ROOM_EVENT_LEVELS = {INSTANCE_EVENT: 0, SNAPSHOT_STATE: 0}


@dataclass(frozen=True)
class CreatedRoom:
    """A federation room just made: its id, its alias, and who was invited."""

    room_id: str
    alias: str
    public: bool
    invited: tuple[str, ...]


def alias_localpart(alias: str) -> str:
    """``#name:server`` or ``name`` -> ``name``; UsageError for anything else."""
    name = alias[1:] if alias.startswith("#") else alias
    name = name.split(":", 1)[0]
    if not name or any(c in name for c in " #:/"):
        raise UsageError(f"not a room alias: {alias!r} (expected #name:your.server or name)")
    return name


def room_request(name: str, localpart: str, public: bool, invite: Sequence[str]) -> dict[str, object]:
    """The ``createRoom`` body of a federation room."""
    return {
        "name": name,
        "topic": "Wavepool federation: instances share their pools here (org.wavepool.* events)",
        "room_alias_name": localpart,
        "preset": "public_chat" if public else "private_chat",
        "visibility": "private",  # not listed in the homeserver's public directory
        "invite": list(invite),
        "initial_state": [
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "shared"}},
            {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "forbidden"}},
        ],
        "power_level_content_override": {"events": dict(ROOM_EVENT_LEVELS), "events_default": 0},
        "creation_content": {"m.federate": True},
    }


async def create_federation_room(
    api: MatrixApi, alias: str, name: str, public: bool = False, invite: Sequence[str] = ()
) -> CreatedRoom:
    """Create the room with its alias; UsageError when the alias is taken or refused."""
    localpart = alias_localpart(alias)
    try:
        data = await api.request("POST", "/_matrix/client/v3/createRoom", room_request(name, localpart, public, invite))
    except MatrixError as error:
        if error.status in (400, 403, 409):
            raise UsageError(f"the homeserver refused to create {alias}: {error}") from error
        raise
    room_id = str(data["room_id"])
    server = api.user_id.split(":", 1)[1] if ":" in api.user_id else ""
    full = alias if ":" in alias else f"#{localpart}:{server}"
    return CreatedRoom(room_id, full, public, tuple(invite))

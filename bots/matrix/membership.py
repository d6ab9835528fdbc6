"""A Matrix member's "account age" and roles, for age- and role-gated rounds.

Matrix has no account creation time a bot may read (Synapse's admin API has one, for
admins only). What every room member can read is the room's membership event
(``m.room.member``) with its ``origin_server_ts``: the member's homeserver stamps it when
they join. "Member since" is the earliest such time this instance has seen for the
member in that room (remembered, so a later display-name change, which sends a new
membership event, does not make an old member young again).

Roles come from the room's power levels: ``moderator`` at or above the configured
moderator level (room creators count as moderators), ``admin`` at 100 or more, and the
level itself as a number (``"50"``), so a round can ask for ``role=moderator`` or
``role=50``.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from typing import Protocol

log = logging.getLogger(__name__)

NS = "matrix_member_since"
MS_PER_DAY = 86_400_000


class _Api(Protocol):
    async def request(
        self, method: str, path: str, body: object = None, params: dict[str, str] | None = None
    ) -> object:
        """One JSON call."""
        ...


class _State(Protocol):
    async def get(self, namespace: str, key: str) -> str | None:
        """A remembered value."""
        ...

    async def put(self, namespace: str, key: str, value: str) -> None:
        """Remember a value."""
        ...


def roles_for(level: int, moderator_level: int, creator: bool = False) -> tuple[str, ...]:
    """A member's role names from their power level."""
    roles = [str(level)]
    if creator or level >= moderator_level:
        roles.append("moderator")
    if creator or level >= 100:
        roles.append("admin")
    return tuple(roles)


async def member_since_ms(api: _Api, state: _State, room_id: str, user_id: str) -> int | None:
    """When the member joined the room as far as this instance knows (ms), or None if unknown."""
    key = f"{room_id}|{user_id}"
    known = await state.get(NS, key)
    if known is not None:
        return int(known)
    path = (
        f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id, safe='')}/state/m.room.member/"
        f"{urllib.parse.quote(user_id, safe='')}"
    )
    try:
        event = await api.request("GET", path, params={"format": "event"})
    except Exception as error:  # the gate then says the age is unknown; the command still answers
        log.warning("membership of %s in %s unknown: %s", user_id, room_id, error)
        return None
    stamp = event.get("origin_server_ts") if isinstance(event, dict) else None
    if not isinstance(stamp, int) or isinstance(stamp, bool) or stamp <= 0:
        return None  # a homeserver that answers with the content only
    await state.put(NS, key, str(stamp))
    return stamp


def age_days(since_ms: int | None, now_s: float | None = None) -> float | None:
    """Days since ``since_ms``; None when unknown."""
    if since_ms is None:
        return None
    now_ms = (time.time() if now_s is None else now_s) * 1000
    return max(0.0, (now_ms - since_ms) / MS_PER_DAY)

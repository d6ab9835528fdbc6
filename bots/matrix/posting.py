"""Sending a rendered plan to a Matrix room: the headline, then the rest as ``m.thread`` replies to it.

With a delivery key every message gets a transaction id derived from the key and its
position, so a retried delivery is deduplicated by the homeserver instead of posted twice.
"""

from __future__ import annotations

import logging

import nio

from bots.matrix.render import Plan, thread_relation, transaction_id

log = logging.getLogger(__name__)


class PostingError(Exception):
    """A message of a plan was refused; ``sent`` holds the ids of those sent before it."""

    def __init__(self, message: str, sent: list[str], code: str | None = None) -> None:
        super().__init__(message)
        self.sent = sent
        self.code = code  # the homeserver's errcode (M_FORBIDDEN, M_TOO_LARGE, ...)


async def post_plan(client: nio.AsyncClient, room_id: str, plan: Plan, key: str | None = None) -> list[str]:
    """Send ``plan`` to a room; the event ids of the messages sent, headline first."""
    ids: list[str] = []
    for index, message in enumerate(plan.messages):
        content = dict(message.content)
        if ids:
            content["m.relates_to"] = thread_relation(ids[0], ids[-1])
        tx_id = transaction_id(key, index) if key is not None else None
        response = await client.room_send(room_id, "m.room.message", content, tx_id=tx_id)
        if isinstance(response, nio.RoomSendError):
            raise PostingError(f"could not send to {room_id}: {response.message}", ids, response.status_code)
        ids.append(str(response.event_id))
    return ids

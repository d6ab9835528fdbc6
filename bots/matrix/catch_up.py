"""Which of a room's synced events the bot has to handle.

A sync carries at most the filter's timeline limit per room; when more arrived (the bot
was down, or busy) the timeline is ``limited`` and the gap is read back with /messages to
the last event handled. In a room the bot joined while running, what was said before it
came is not for it (as on the very first start, old history is skipped): only the events
after its own join count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import nio

log = logging.getLogger(__name__)

MAX_CATCH_UP_PAGES = 50  # of 100 events: a bot down for a while reads what it missed, boundedly


async def unread(client: nio.AsyncClient, room_id: str, timeline: nio.Timeline, last: str | None) -> list[Any]:
    """The room's events to handle, oldest first; ``last`` is the last event handled there (None: none yet)."""
    events = list(timeline.events)
    if last is None:  # joined while running

        def own_join(event: Any) -> bool:
            return (
                isinstance(event, nio.RoomMemberEvent)
                and event.state_key == client.user_id
                and event.membership == "join"
            )

        joins = [index for index, event in enumerate(events) if own_join(event)]
        if joins:
            return events[joins[-1] + 1 :]
        if not timeline.limited:
            return events
        older, found = await _back_to(client, room_id, timeline.prev_batch, own_join)
        return [*older, *events] if found else events
    if not timeline.limited:
        return events
    older, found = await _back_to(client, room_id, timeline.prev_batch, lambda e: getattr(e, "event_id", None) == last)
    if not found:
        log.warning("caught up %d missed events in %s without reaching the last one read", len(older), room_id)
    return [*older, *events]


async def _back_to(
    client: nio.AsyncClient, room_id: str, token: str | None, is_stop: Callable[[Any], bool]
) -> tuple[list[Any], bool]:
    """The events before a limited timeline back to the first that ``is_stop`` (not included),
    oldest first, and whether it was reached."""
    older: list[Any] = []
    for _ in range(MAX_CATCH_UP_PAGES):
        if token is None:
            break
        page = await client.room_messages(room_id, start=token, limit=100)
        if not isinstance(page, nio.RoomMessagesResponse) or not page.chunk:
            break
        for event in page.chunk:  # newest first
            if is_stop(event):
                return list(reversed(older)), True
            older.append(event)
        token = page.end
    return list(reversed(older)), False

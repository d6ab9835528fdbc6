"""Handling a sync's events concurrently across members, each member's own in order.

One sync can bring hundreds of members' commands and reactions. Handled one at a time,
each waits on every answer before it (a 1,000-member vote took minutes). Here each lane,
one per (room, sender), is drained in order by its own task, at most ``limit`` lanes at
once; a barrier event (a moderator's command, such as closing a round) waits for every
lane before it and runs alone, so what members did before it is handled before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TypeVar

log = logging.getLogger(__name__)

LANES_AT_ONCE = 16  # enough to overlap the homeserver round trips; SQLite writes are serialised anyway

T = TypeVar("T")


async def run_in_lanes(
    items: Iterable[T],
    lane_of: Callable[[T], Hashable],
    handle: Callable[[T], Awaitable[None]],
    is_barrier: Callable[[T], bool] = lambda _: False,
    limit: int = LANES_AT_ONCE,
) -> None:
    """Handle ``items``: one lane's in their order, different lanes concurrently (at most ``limit``).

    ``handle`` failing is logged and the lane goes on with its next item.
    """
    gate = asyncio.Semaphore(limit)
    queues: dict[Hashable, deque[T]] = {}
    running: list[asyncio.Task[None]] = []

    async def safely(item: T) -> None:
        try:
            await handle(item)
        except Exception:
            log.exception("handling %r failed", item)

    async def drain(lane: Hashable) -> None:
        async with gate:
            queue = queues[lane]
            while queue:
                await safely(queue.popleft())
            del queues[lane]  # no await since the queue was seen empty: nothing is added behind it

    async def settle() -> None:
        try:
            await asyncio.gather(*running)
        finally:
            running.clear()

    try:
        for item in items:
            if is_barrier(item):
                await settle()
                await safely(item)
                continue
            lane = lane_of(item)
            if lane in queues:
                queues[lane].append(item)
            else:
                queues[lane] = deque([item])
                running.append(asyncio.create_task(drain(lane)))
        await settle()
    finally:
        for task in running:  # cancelled while waiting: the lanes stop with it
            task.cancel()

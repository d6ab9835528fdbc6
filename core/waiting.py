"""Waiting for an event with a time limit, without losing a cancellation; and work in a
thread that stops when the task waiting for it is cancelled.

On Python 3.11 ``asyncio.wait_for(event.wait(), t)`` returns normally when the task is
cancelled at the moment the event is set: the cancellation is swallowed, and a loop around
it (a part's "wait for work or a poll interval") never stops, so the instance hangs at
shutdown. ``asyncio.timeout`` keeps the cancellation.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def wait_until_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; whether it was set."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def in_thread_until_cancelled(work: Callable[[threading.Event], T]) -> T:
    """``work(stop)`` in a worker thread; cancelling the caller sets ``stop``.

    A cancelled ``asyncio.to_thread`` leaves its thread running, and the interpreter waits
    for it at exit: work that checks ``stop`` now and then (a start-up load of ~15 s) then
    gives up soon instead of holding up the instance's stop."""
    stop = threading.Event()
    try:
        return await asyncio.to_thread(work, stop)
    except asyncio.CancelledError:
        stop.set()
        raise

"""A part's "wait for work or the poll interval" never swallows the instance's stop."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from core.waiting import wait_until_set


async def _old_wait(event: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


async def _stops(wait) -> bool:
    """Whether a waiting loop cancelled at the moment its event is set stops."""
    event = asyncio.Event()

    async def part() -> None:
        while True:
            await wait(event, 30.0)
            event.clear()

    task = asyncio.create_task(part())
    for _ in range(3):
        await asyncio.sleep(0)
    event.set()
    for _ in range(2):  # the inner wait finishes, then the cancel lands on the outer one
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2.0)
    if not done:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return bool(done)


async def test_wait_until_set_keeps_a_cancellation_that_arrives_with_the_event() -> None:
    assert await _stops(wait_until_set)


async def test_wait_until_set_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert not await wait_until_set(event, 0.01)
    event.set()
    assert await wait_until_set(event, 0.01)


@pytest.mark.xfail(reason="Python 3.11's asyncio.wait_for swallows it: why core.waiting exists", strict=False)
async def test_asyncio_wait_for_loses_that_cancellation() -> None:
    assert await _stops(_old_wait)

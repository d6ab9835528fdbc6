"""A part's "wait for work or the poll interval" never swallows the instance's stop."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from core.waiting import in_thread_until_cancelled, wait_until_set


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


async def test_cancelling_the_caller_stops_the_work_in_its_thread() -> None:
    started, seen = threading.Event(), threading.Event()

    def work(stop: threading.Event) -> str:
        started.set()
        for _ in range(500):  # bounded: 5 s at most
            if stop.wait(0.01):
                seen.set()
                return "stopped"
        return "ran out"

    task = asyncio.create_task(in_thread_until_cancelled(work))
    assert await asyncio.to_thread(started.wait, 5.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(seen.wait, 5.0)  # the thread saw the stop and gave up


async def test_work_in_a_thread_returns_its_result() -> None:
    assert await in_thread_until_cancelled(lambda stop: 0 if stop.is_set() else 42) == 42

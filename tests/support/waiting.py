"""Bounded waits on a condition, for tests: never a fixed sleep as synchronisation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

POLL_S = 0.1


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout_s: float = 30.0,
    what: str = "condition",
    poll_s: float = POLL_S,
) -> None:
    """Poll the async ``check`` until it is true; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        if await check():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(poll_s)


def wait_until(
    check: Callable[[], bool],
    timeout_s: float = 30.0,
    what: str = "condition",
    poll_s: float = POLL_S,
) -> None:
    """Poll the plain ``check`` until it is true (for tests without an event loop); AssertionError on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        if check():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)

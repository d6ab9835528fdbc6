"""A value read at most a given age ago; callers asking at once wait for one read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class RecentValue(Generic[T]):
    """Answers slow, rarely changing reads (a digest preview, peer counts) from the last read.

    A read older than ``max_age_s``, or stamped in the future (the clock went back), is
    made again; callers that arrive during a read wait for it instead of starting their own.
    """

    def __init__(
        self, read: Callable[[], Awaitable[T]], max_age_s: float, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._read = read
        self._max_age_s = max_age_s
        self._now = now
        self._last: tuple[float, T] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> T:
        """The last read if it is recent enough, else a new one."""
        async with self._lock:
            now = self._now()
            if self._last is None or not now - self._max_age_s < self._last[0] <= now:
                self._last = (now, await self._read())
            return self._last[1]

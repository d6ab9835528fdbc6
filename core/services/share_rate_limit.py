"""Per-member share limit: at most N shares in a sliding window, counted from stored shares.

Counting the shares already recorded (not an in-memory counter) keeps the limit across
restarts and across bots: a restart does not reset anybody's count.
"""

from __future__ import annotations

from datetime import timedelta

from core.errors import RateLimitedError
from core.model import Sharer
from core.ports import Clock, ShareCounter


class ShareRateLimiter:
    """Refuses a share when the member reached the limit of the window."""

    def __init__(
        self,
        counter: ShareCounter,
        clock: Clock,
        per_window: int,
        window_s: float,
        exempt_platforms: tuple[str, ...] = ("cli",),
    ) -> None:
        self._counter = counter
        self._clock = clock
        self.per_window = per_window
        self.window = timedelta(seconds=window_s)
        self._exempt = exempt_platforms

    async def check(self, sharer: Sharer) -> None:
        """RateLimitedError with the wait in words when the member must wait."""
        if sharer.platform in self._exempt or self.per_window <= 0:
            return
        since = self._clock.now() - self.window
        used = await self._counter.shares_since(sharer.platform, sharer.user_id, since)
        if used >= self.per_window:
            minutes = max(1, int(self.window.total_seconds() // 60))
            raise RateLimitedError(
                f"you shared {used} tracks in the last {minutes} minutes, the limit here is "
                f"{self.per_window}; please wait a while before sharing more"
            )

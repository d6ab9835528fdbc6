"""Exponential backoff for the bots' long-running loops (syncs, reconnects)."""

from __future__ import annotations

import asyncio
import logging


class Backoff:
    """Doubling waits between failed attempts, reset by a success."""

    def __init__(self, first: float = 1.0, most: float = 60.0) -> None:
        self._first = first
        self._most = most
        self.delay = first
        self.problem: str | None = None  # the last failure, until a success (for /healthz)

    def reset(self) -> None:
        """After a success: the next failure waits the shortest time again."""
        self.delay = self._first
        self.problem = None

    async def wait(self, log: logging.Logger, what: str, error: object) -> None:
        """Log the failure, sleep, and double the next wait."""
        log.warning("%s failed (%s); retrying in %.0f s", what, error, self.delay)
        self.problem = f"{what} failed: {error}"
        await asyncio.sleep(self.delay)
        self.delay = min(self._most, self.delay * 2)

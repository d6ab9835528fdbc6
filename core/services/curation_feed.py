"""Keeps the curation index fresh from storage: no retraining job for the operator.

Every query asks ``index()``: when the index is older than ``REFRESH`` it reads the
likes and tracks recorded since its newest one (an indexed range read), and every
``REBUILD`` it starts over so withdrawn votes and taken-down tracks leave it. A new vote
therefore reaches recommendations and reputation within ``REFRESH`` (30 s).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from core.curation_index import CurationIndex
from core.curation_ports import CurationStore
from core.ports import Clock

log = logging.getLogger(__name__)

REFRESH = timedelta(seconds=30)
REBUILD = timedelta(minutes=10)


class CurationFeed:
    """Holds one ``CurationIndex`` and refreshes it on demand."""

    def __init__(self, store: CurationStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._index = CurationIndex()
        self._refreshed: datetime | None = None
        self._built: datetime | None = None
        self._lock = asyncio.Lock()

    async def index(self, *, fresh: bool = False) -> CurationIndex:
        """The index, refreshed when stale (``fresh``: refresh now)."""
        now = self._clock.now()
        if not fresh and self._refreshed is not None and now - self._refreshed < REFRESH:
            return self._index
        async with self._lock:
            if self._built is None or now - self._built >= REBUILD:
                index = CurationIndex()
                index.extend(await self._store.track_facts_since(None), await self._store.likes_since(None))
                self._index, self._built = index, now
                log.debug("curation index rebuilt: %d tracks, %d likes", len(index.track_ids), index.like_count)
            else:
                index = self._index
                index.extend(
                    await self._store.track_facts_since(index.last_track_at),
                    await self._store.likes_since(index.last_like_at),
                )
            self._refreshed = now
        return self._index

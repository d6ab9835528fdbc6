"""Keeps the curation index fresh from storage: no retraining job for the operator.

Every query asks ``index()``: when the index is older than ``REFRESH`` it reads the
likes and tracks recorded since its newest one (an indexed range read), and every
``REBUILD`` a new index is built in the background (the old one serves meanwhile) so
withdrawn votes and taken-down tracks leave it. A new vote therefore reaches
recommendations and reputation within ``REFRESH`` (30 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from core.curation_build import IndexBuilder
from core.curation_index import CurationIndex
from core.curation_ports import CurationStore
from core.ports import Clock

log = logging.getLogger(__name__)

REFRESH = timedelta(seconds=30)
REBUILD = timedelta(minutes=10)


async def build_index(store: CurationStore) -> CurationIndex:
    """A whole index from everything stored, read in pages; the pure-Python part runs in a
    worker thread so the event loop keeps serving (2,000,000 votes: ~40 s on 2 cores)."""
    builder = IndexBuilder()
    async for tracks in store.track_fact_pages():
        await asyncio.to_thread(builder.add_tracks, tracks)
    async for page in store.vote_pages():
        await asyncio.to_thread(builder.add_votes, page)
    builder.add_likes(await store.reshares())
    return await asyncio.to_thread(builder.finish, await store.plays_since(None))


class CurationFeed:
    """Holds one ``CurationIndex`` and refreshes it on demand."""

    def __init__(
        self,
        store: CurationStore,
        clock: Clock,
        after_build: Callable[[], object] | None = None,
        build: Callable[[], Awaitable[CurationIndex]] | None = None,
    ) -> None:
        """``build`` makes a whole index (default: ``build_index`` here; an instance may build a
        large one in another process); ``after_build`` runs in a worker thread after each build
        (the instance hands the memory a build freed back to the system there)."""
        self._store = store
        self._clock = clock
        self._after_build = after_build
        self._build_with = build
        self._index = CurationIndex()
        self._refreshed: datetime | None = None
        self._built: datetime | None = None
        self._lock = asyncio.Lock()
        self._rebuilding: asyncio.Task[None] | None = None

    async def index(self, *, fresh: bool = False) -> CurationIndex:
        """The index, refreshed when stale (``fresh``: refresh now)."""
        now = self._clock.now()
        if not fresh and self._refreshed is not None and now - self._refreshed < REFRESH:
            return self._index
        async with self._lock:
            if self._built is None:  # the first build: the caller has nothing to use meanwhile
                self._index = await self._build()
                self._built = now
            else:
                if now - self._built >= REBUILD and self._rebuilding is None:
                    self._built = now
                    self._rebuilding = asyncio.create_task(self._rebuild())
                index = self._index
                tracks = await self._store.track_facts_since(index.last_track_at)
                likes = await self._store.likes_since(index.last_like_at)
                plays = await self._store.plays_since(index.last_play_at)
                index.extend(tracks, likes, plays)
            self._refreshed = now
        return self._index

    @property
    def ready(self) -> bool:
        """Whether the index has been built (a query no longer waits for the first build)."""
        return self._built is not None

    async def warm(self) -> int:
        """Build the index now (at start-up, behind the serving instance); the likes it holds."""
        index = await self.index()
        log.info("curation index warmed: %d tracks, %d likes", index.track_count, index.like_count)
        return index.like_count

    async def _build(self) -> CurationIndex:
        """A new index from everything stored (by ``build`` when the owner gave one)."""
        index = await (self._build_with() if self._build_with is not None else build_index(self._store))
        log.debug("curation index built: %d tracks, %d likes", index.track_count, index.like_count)
        if self._after_build is not None:
            await asyncio.to_thread(self._after_build)
        return index

    async def _rebuild(self) -> None:
        """Replace the index with a fresh one (drops withdrawn votes and hidden tracks)."""
        try:
            index = await self._build()
            async with self._lock:  # what arrived during the build is read again: the index ignores repeats
                index.extend(
                    await self._store.track_facts_since(index.last_track_at),
                    await self._store.likes_since(index.last_like_at),
                    await self._store.plays_since(index.last_play_at),
                )
                self._index = index
        except Exception:  # the old index keeps serving; the next rebuild tries again
            log.exception("curation index rebuild failed")
        finally:
            self._rebuilding = None

    async def settled(self) -> None:
        """Wait for a rebuild in progress (tests, shutdown)."""
        task = self._rebuilding
        if task is not None:
            await task

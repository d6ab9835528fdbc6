"""A small community for curation tests, over the in-memory fakes or real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.clock import ManualClock
from core.events.ports import EventLog
from core.model import Share, Sharer, Track, Verdict
from core.ports import TrackRepository, VotingRepository
from core.services.curation import Curation, build_curation
from core.voting_model import Voter
from storage.memory import MemoryTrackRepository, MemoryVotingRepository
from storage.memory_curation import MemoryCurationStore
from storage.memory_events import MemoryEventLog
from storage.sqlite.curation_store import SqliteCurationStore
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog
from storage.sqlite.track_repository import SqliteTrackRepository
from storage.sqlite.voting_repository import SqliteVotingRepository
from tests.support.factories import make_track, member

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class World:
    """Tracks, votes, the clock and the curation services of one instance."""

    tracks: TrackRepository
    voting: VotingRepository
    events: EventLog
    clock: ManualClock
    curation: Curation

    async def share(
        self, who: Sharer, title: str = "Night drive", genre: str | None = "synthwave", prompt: str | None = None
    ) -> Track:
        """A public track shared now by ``who``."""
        track = make_track(who, title, genre=genre, when=self.clock.now(), prompt=prompt)
        await self.tracks.add(track, Share(track.id, who, self.clock.now(), "room"))
        self.clock.advance(timedelta(seconds=1))
        return track

    async def vote(self, track: Track, who: Sharer) -> None:
        """``who`` approves ``track`` now."""
        await self.voting.set_track_vote(track.id, Voter.of(who), 1, self.clock.now())
        self.clock.advance(timedelta(seconds=1))

    async def hide(self, track: Track, verdict: Verdict = Verdict.QUARANTINED) -> None:
        """Send a track back to review."""
        await self.tracks.set_verdict(track.id, verdict, "back to review")

    def later(self, minutes: float = 11) -> None:
        """Move past the index's refresh (and, by default, rebuild) time."""
        self.clock.advance(timedelta(minutes=minutes))

    async def rebuilt(self) -> None:
        """Move past the rebuild time and wait for the background rebuild of the index."""
        self.later()
        await self.curation.feed.index()
        await self.curation.feed.settled()


def people(prefix: str, count: int) -> list[Sharer]:
    """``count`` members named prefix0, prefix1 ..."""
    return [member(f"{prefix}{n}") for n in range(count)]


@asynccontextmanager
async def world(kind: str, tmp_path: Path, **options: float | bool) -> AsyncIterator[World]:
    """A world over ``memory`` fakes or ``sqlite``."""
    clock = ManualClock(START)
    if kind == "memory":
        mtracks, mvoting = MemoryTrackRepository(), MemoryVotingRepository()
        events_m = MemoryEventLog()
        store_m = MemoryCurationStore(mtracks, mvoting)
        curation = build_curation(store_m, mtracks, events_m, clock, mvoting, **options)  # type: ignore[arg-type]
        yield World(mtracks, mvoting, events_m, clock, curation)
        return
    db = await Database.open(tmp_path / "curation.sqlite3")
    try:
        tracks, voting, events = SqliteTrackRepository(db), SqliteVotingRepository(db), SqliteEventLog(db)
        curation = build_curation(SqliteCurationStore(db), tracks, events, clock, voting, **options)  # type: ignore[arg-type]
        yield World(tracks, voting, events, clock, curation)
    finally:
        await db.close()

"""A small community for curation tests, over the in-memory fakes or real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.clock import ManualClock
from core.curation_index import CurationIndex
from core.events.ports import EventLog
from core.model import Share, Sharer, Track, Verdict
from core.ports import TrackRepository, VotingRepository
from core.recommend import discover, similar
from core.reputation_model import reputation
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
    db: Database | None = None  # the SQLite world's database

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
        yield World(tracks, voting, events, clock, curation, db)
    finally:
        await db.close()


def answers_of(index: CurationIndex) -> dict[str, object]:
    """Everything an index answers, for comparing two indexes built differently."""
    now = datetime(2026, 3, 1, tzinfo=UTC)
    return {
        "likers": [(list(index.likers(t)), list(index.like_times(t))) for t in range(index.track_count)],
        "tracks": [
            (index.track_id(t), index.sharer(t), index.genre(t), index.first_seen(t), index.plays(t))
            for t in range(index.track_count)
        ],
        "words": [sorted(index.words(t)) for t in range(index.track_count)],
        "members": [
            (index.member_of(m), list(index.liked(m)), list(index.shared(m))) for m in range(index.member_count)
        ],
        "pairs": [[index.pair(v, s) for s in range(index.member_count)] for v in range(index.member_count)],
        "discover": [discover(index, m, lambda t: True, 10) for m in range(index.member_count)],
        "similar": [similar(index, t, lambda t: True, 10) for t in range(index.track_count)],
        "reputation": [reputation(index, m, now) for m in range(index.member_count)],
        "popular": list(index.popular()),
        "counts": (index.like_count, index.last_like_at, index.last_track_at, index.last_play_at),
    }

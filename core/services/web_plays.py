"""Web plays: the track page's player reports a play, a weak recommendation signal.

Nothing about the listener is stored: a play row holds the track and the time. The
client address is held in memory only, to rate-limit: one counted play per address
and track per ``REPEAT_AFTER``, at most ``PER_ADDRESS_PER_HOUR`` per address, and the
table of addresses is bounded (``MAX_ADDRESSES``; the stalest are forgotten first).
"""

from __future__ import annotations

import enum
import logging
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from core.curation_ports import CurationStore
from core.errors import NotFoundError
from core.model import TrackId
from core.ports import Clock, TrackRepository
from core.visibility import is_public

log = logging.getLogger(__name__)

REPEAT_AFTER = timedelta(minutes=30)
PER_ADDRESS_PER_HOUR = 60
MAX_ADDRESSES = 10_000
_HOUR = timedelta(hours=1)


class PlayOutcome(enum.StrEnum):
    """What became of a reported play."""

    COUNTED = "counted"
    REPEAT = "repeat"  # the same address played this track a moment ago: not counted again
    LIMITED = "limited"  # the address reported too many plays this hour


class _Recent:
    """One address's recent plays: times in the last hour and when each track was last counted."""

    __slots__ = ("times", "tracks")

    def __init__(self) -> None:
        self.times: deque[datetime] = deque()
        self.tracks: dict[TrackId, datetime] = {}


class WebPlays:
    """Counts web plays of public tracks, rate-limited per client address (kept in memory only)."""

    def __init__(self, store: CurationStore, tracks: TrackRepository, clock: Clock) -> None:
        self._store = store
        self._tracks = tracks
        self._clock = clock
        self._recent: OrderedDict[str, _Recent] = OrderedDict()

    async def report(self, track_id: str, address: str) -> PlayOutcome:
        """Count a play of a public track from a client address (``NotFoundError`` when not public)."""
        track = await self._tracks.get(TrackId(track_id))
        if track is None or not is_public(track):
            raise NotFoundError("there is no such track here")
        now = self._clock.now()
        recent = self._recent.pop(address, None) or _Recent()
        self._recent[address] = recent  # most recently seen last
        while len(self._recent) > MAX_ADDRESSES:
            self._recent.popitem(last=False)
        while recent.times and now - recent.times[0] >= _HOUR:
            recent.times.popleft()
        last = recent.tracks.get(track.id)
        if last is not None and now - last < REPEAT_AFTER:
            return PlayOutcome.REPEAT
        if len(recent.times) >= PER_ADDRESS_PER_HOUR:
            return PlayOutcome.LIMITED
        recent.times.append(now)
        recent.tracks = {t: at for t, at in recent.tracks.items() if now - at < REPEAT_AFTER}
        recent.tracks[track.id] = now
        await self._store.add_play(track.id, now)
        return PlayOutcome.COUNTED

"""Which chat messages show which track's card (migration 132), so they can be edited later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from core.model import TrackId
from storage.sqlite.database import Database


@dataclass(frozen=True)
class PostedCard:
    """One posted card: where, which message, and the headline it was posted with."""

    platform: str
    place: str  # room or channel id
    message_id: str
    track_id: TrackId
    headline: str


class SqlitePostedCards:
    """The ``posted_cards`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, card: PostedCard) -> None:
        """Remember a posted card (a repeated delivery of the same message is one row)."""
        await self._db.execute(
            "INSERT OR IGNORE INTO posted_cards(platform, message_id, place, track_id, headline) VALUES (?, ?, ?, ?, ?)",
            (card.platform, card.message_id, card.place, card.track_id, card.headline),
        )

    async def of_track(self, track_id: TrackId, platform: str) -> Sequence[PostedCard]:
        """Every card of a track posted on a platform, oldest first."""
        rows = await self._db.fetchall(
            "SELECT platform, place, message_id, track_id, headline FROM posted_cards"
            " WHERE track_id = ? AND platform = ? ORDER BY posted_at",
            (track_id, platform),
        )
        return [PostedCard(r[0], r[1], r[2], TrackId(r[3]), r[4]) for r in rows]

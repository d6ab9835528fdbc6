"""``core.services.genres.GenrePlaces`` on SQLite."""

from __future__ import annotations

from storage.sqlite.database import Database


class SqliteGenrePlaces:
    """Runtime genre → channel/room settings."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_all(self) -> dict[tuple[str, str], str]:
        """(genre, platform) -> place."""
        rows = await self._db.fetchall("SELECT genre, platform, place FROM genre_places")
        return {(r[0], r[1]): r[2] for r in rows}

    async def put(self, genre: str, platform: str, place: str | None) -> None:
        """Set or clear a place."""
        if place is None:
            await self._db.execute("DELETE FROM genre_places WHERE genre = ? AND platform = ?", (genre, platform))
            return
        await self._db.execute(
            "INSERT INTO genre_places(genre, platform, place) VALUES (?, ?, ?)"
            " ON CONFLICT(genre, platform) DO UPDATE SET place = excluded.place",
            (genre, platform, place),
        )

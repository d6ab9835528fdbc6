"""Small persistent state of the bots: sync tokens, card message ids, command hashes."""

from __future__ import annotations

from storage.sqlite.database import Database


class BotState:
    """A key-value store in namespaces (``matrix``, ``discord``, ``federation`` ...)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, namespace: str, key: str) -> str | None:
        """The value, or None."""
        row = await self._db.fetchone("SELECT value FROM bot_state WHERE namespace = ? AND key = ?", (namespace, key))
        return str(row[0]) if row else None

    async def put(self, namespace: str, key: str, value: str) -> None:
        """Set a value (durable when this returns)."""
        await self._db.execute(
            "INSERT INTO bot_state(namespace, key, value) VALUES (?, ?, ?)"
            " ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value",
            (namespace, key, value),
        )

    async def delete(self, namespace: str, key: str) -> None:
        """Remove a value."""
        await self._db.execute("DELETE FROM bot_state WHERE namespace = ? AND key = ?", (namespace, key))

    async def keys(self, namespace: str, prefix: str = "") -> list[str]:
        """Keys of a namespace that start with ``prefix``."""
        rows = await self._db.fetchall(
            "SELECT key FROM bot_state WHERE namespace = ? AND key >= ? AND key < ? ORDER BY key",
            (namespace, prefix, prefix + "\U0010ffff"),
        )
        return [str(row[0]) for row in rows]

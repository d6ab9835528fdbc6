"""A child process for the outbox crash test: records events, and delivers them to a
"platform" (an SQLite table that, like Matrix transaction ids and Discord nonces, ignores a
delivery key it has seen) and to a transactional subscriber; it can be told to stop dead
(waiting for SIGKILL) at a chosen point.

    python -m tests.support.outbox_child DATA record N
    python -m tests.support.outbox_child DATA deliver [hang-after-delivery|hang-in-transaction]
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.clock import ManualClock
from core.events.dispatcher import Dispatcher
from core.events.model import DomainEvent, EventKind, RecordedEvent
from core.model import TrackId
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog


class Platform:
    """Where a chat subscriber posts: keeps one message per delivery key (idempotent sends)."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("CREATE TABLE IF NOT EXISTS posts (key TEXT PRIMARY KEY, seq INTEGER, n INTEGER)")
        self._conn.execute("CREATE TABLE IF NOT EXISTS attempts (seq INTEGER)")

    def close(self) -> None:
        self._conn.close()

    def post(self, key: str, seq: int) -> None:
        self._conn.execute("INSERT INTO attempts(seq) VALUES (?)", (seq,))
        self._conn.execute("INSERT OR IGNORE INTO posts(key, seq, n) VALUES (?, ?, 1)", (key, seq))


class Chat:
    name = "chat"
    backlog: timedelta | None = None
    transactional = False

    def __init__(self, platform: Platform, hang: bool) -> None:
        self._platform = platform
        self._hang = hang

    def ready(self) -> bool:
        return True

    async def deliver(self, event: RecordedEvent) -> None:
        self._platform.post(event.delivery_key(self.name), event.seq)
        if self._hang:
            print("delivered", event.seq, flush=True)
            await asyncio.Event().wait()  # killed here: delivered, checkpoint not written


class Ledger:
    """A transactional subscriber: its writes and its checkpoint commit together."""

    name = "ledger"
    backlog: timedelta | None = None
    transactional = True

    def __init__(self, db: Database, hang: bool) -> None:
        self._db = db
        self._hang = hang

    def ready(self) -> bool:
        return True

    async def deliver(self, event: RecordedEvent) -> None:
        await self._db.execute("INSERT INTO ledger(seq) VALUES (?)", (event.seq,))
        if self._hang:
            print("in transaction", event.seq, flush=True)
            await asyncio.Event().wait()  # killed inside the transaction


async def main(data: Path, action: str, arg: str) -> None:
    db = await Database.open(data / "outbox.sqlite3")
    await db.execute("CREATE TABLE IF NOT EXISTS ledger (seq INTEGER)")
    events = SqliteEventLog(db)
    now = datetime(2026, 11, 29, tzinfo=UTC)
    if action == "record":
        for n in range(int(arg)):
            async with events.transaction():  # a state change and its event, as one
                await db.execute("INSERT INTO ledger(seq) VALUES (-1)")
                await events.record(DomainEvent(EventKind.TRACK_ACCEPTED, track_id=TrackId(f"t{n}")), now)
        print("recorded", flush=True)
        await asyncio.Event().wait()  # killed before any delivery
    platform = Platform(data / "platform.sqlite3")
    subscribers = [Chat(platform, arg == "hang-after-delivery"), Ledger(db, arg == "hang-in-transaction")]
    dispatcher = Dispatcher(events, subscribers, ManualClock(now))
    for _ in range(1000):
        if not await dispatcher.pump():
            break
    await db.close()
    platform.close()
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""))

"""The outbox on SQLite: ``core.events.ports.EventLog``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Sequence
from datetime import datetime

from core.events.model import DomainEvent, RecordedEvent, from_record, to_record
from core.waiting import wait_until_set
from storage.sqlite.database import Database


class SqliteEventLog:
    """Events in the ``events`` table, checkpoints in ``event_checkpoints``; also the transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._recorded = asyncio.Event()

    def transaction(self) -> contextlib.AbstractAsyncContextManager[object]:
        """The database transaction: a change and its event commit together."""
        return self._db.transaction()

    async def record(self, event: DomainEvent, at: datetime) -> int:
        """Append an event to the outbox (inside the caller's transaction, if any)."""
        seq = await self._db.insert(
            "INSERT INTO events(at, kind, track_id, round_id, extras) VALUES (?, ?, ?, ?, ?)",
            (
                at.isoformat(),
                event.kind.value,
                event.track_id,
                event.round_id,
                json.dumps(to_record(event), sort_keys=True),
            ),
        )
        self._recorded.set()
        return seq

    async def record_many(self, events: Sequence[DomainEvent], at: datetime) -> None:
        """Append events in this order (inside the caller's transaction, if any), in one write."""
        if not events:
            return
        when = at.isoformat()
        await self._db.executemany(
            "INSERT INTO events(at, kind, track_id, round_id, extras) VALUES (?, ?, ?, ?, ?)",
            [(when, e.kind.value, e.track_id, e.round_id, json.dumps(to_record(e), sort_keys=True)) for e in events],
        )
        self._recorded.set()

    async def after(self, seq: int, limit: int = 100) -> Sequence[RecordedEvent]:
        """Committed events after ``seq``, oldest first."""
        rows = await self._db.fetchall_committed(
            "SELECT seq, at, kind, track_id, round_id, extras FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [
            RecordedEvent(
                int(r["seq"]),
                datetime.fromisoformat(r["at"]),
                from_record(r["kind"], r["track_id"], r["round_id"], json.loads(r["extras"])),
            )
            for r in rows
        ]

    async def checkpoint(self, subscriber: str) -> int | None:
        """The last event the subscriber finished."""
        row = await self._db.fetchone("SELECT seq FROM event_checkpoints WHERE subscriber = ?", (subscriber,))
        return int(row["seq"]) if row else None

    async def set_checkpoint(self, subscriber: str, seq: int) -> None:
        """Move the subscriber's checkpoint."""
        await self._db.execute(
            "INSERT INTO event_checkpoints(subscriber, seq, updated_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
            " ON CONFLICT(subscriber) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at",
            (subscriber, seq),
        )

    async def last_seq(self) -> int:
        """The newest committed event's number."""
        rows = await self._db.fetchall_committed("SELECT max(seq) FROM events")
        return int(rows[0][0] or 0) if rows else 0

    async def wait_for_new(self, seconds: float) -> None:
        """Until an event is recorded here, or after ``seconds``."""
        await wait_until_set(self._recorded, seconds)
        self._recorded.clear()

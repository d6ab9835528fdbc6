"""The outbox in memory, for unit tests: ``core.events.ports.EventLog``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from core.events.model import DomainEvent, RecordedEvent
from core.waiting import wait_until_set


class MemoryEventLog:
    """Events in a list; a transaction that fails drops the events recorded inside it."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self._checkpoints: dict[str, int] = {}
        self._recorded = asyncio.Event()
        self._open: list[RecordedEvent] | None = None

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[object]:
        if self._open is not None:
            yield self
            return
        self._open = []
        try:
            yield self
        except BaseException:
            self._open = None
            raise
        pending, self._open = self._open, None
        self.events.extend(pending)

    def transaction(self) -> contextlib.AbstractAsyncContextManager[object]:
        """Events recorded inside are kept only if the block ends without an error."""
        return self._tx()

    async def record(self, event: DomainEvent, at: datetime) -> int:
        """Append an event."""
        pending = self._open or []
        seq = len(self.events) + len(pending) + 1
        recorded = RecordedEvent(seq, at, event)
        if self._open is not None:
            self._open.append(recorded)
        else:
            self.events.append(recorded)
        self._recorded.set()
        return seq

    async def record_many(self, events: Sequence[DomainEvent], at: datetime) -> None:
        """Append events in order."""
        for event in events:
            await self.record(event, at)

    async def after(self, seq: int, limit: int = 100) -> Sequence[RecordedEvent]:
        """Events after ``seq``."""
        return [e for e in self.events if e.seq > seq][:limit]

    async def checkpoint(self, subscriber: str) -> int | None:
        """The subscriber's checkpoint."""
        return self._checkpoints.get(subscriber)

    async def set_checkpoint(self, subscriber: str, seq: int) -> None:
        """Move the subscriber's checkpoint."""
        self._checkpoints[subscriber] = seq

    async def last_seq(self) -> int:
        """The newest event's number."""
        return self.events[-1].seq if self.events else 0

    async def wait_for_new(self, seconds: float) -> None:
        """Until an event is recorded, or after ``seconds``."""
        await wait_until_set(self._recorded, seconds)
        self._recorded.clear()

"""The ports of the event flow: the outbox and the transaction that binds it to a change."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from core.events.model import DomainEvent, RecordedEvent


class Transactions(Protocol):
    """Groups writes so they land together or not at all."""

    def transaction(self) -> AbstractAsyncContextManager[object]:
        """``async with tx.transaction():`` — every write inside commits as one (nests)."""
        ...


class EventLog(Transactions, Protocol):
    """The outbox: recorded events in order, and how far each subscriber has got.

    It also opens the transaction that binds a state change to its event."""

    async def record(self, event: DomainEvent, at: datetime) -> int:
        """Append an event (inside the caller's transaction, if any); its sequence number."""
        ...

    async def record_many(self, events: Sequence[DomainEvent], at: datetime) -> None:
        """Append events in this order (inside the caller's transaction, if any), in one write."""
        ...

    async def after(self, seq: int, limit: int = 100) -> Sequence[RecordedEvent]:
        """Committed events with a sequence number above ``seq``, oldest first."""
        ...

    async def checkpoint(self, subscriber: str) -> int | None:
        """The last event ``subscriber`` finished, or None if it never ran."""
        ...

    async def set_checkpoint(self, subscriber: str, seq: int) -> None:
        """Record that ``subscriber`` finished every event up to ``seq``."""
        ...

    async def last_seq(self) -> int:
        """The newest event's sequence number (0 when there is none)."""
        ...

    async def wait_for_new(self, seconds: float) -> None:
        """Return when an event was recorded in this process, or after ``timeout`` seconds."""
        ...

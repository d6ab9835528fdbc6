"""The dispatcher: every recorded event reaches every subscriber, in order, at least once.

Each subscriber has its own checkpoint in the outbox. A subscriber that is not ready
(its platform not connected yet, or down) is skipped and catches up when it is ready. A
delivery that fails is retried with backoff and holds that subscriber's later events (so
order is kept), unless the subscriber says the failure is permanent
(``PermanentDeliveryError``): then the event is logged and skipped for that subscriber
only. Subscribers make deliveries idempotent with ``RecordedEvent.delivery_key`` (a chat
platform's transaction id or nonce), so a crash between a delivery and its checkpoint
does not post twice.

A subscriber that never ran starts at the beginning of the outbox, so what was done from
the command line before the first ``wavepool run`` is announced and federated; a chat
surface added to an instance with a long history skips what is older than its
``backlog`` (a new Discord server is not flooded with last year's posts).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from core.errors import WavepoolError
from core.events.model import RecordedEvent
from core.events.ports import EventLog
from core.ports import Clock

log = logging.getLogger(__name__)

BATCH = 50
MAX_BACKOFF_S = 300.0


class PermanentDeliveryError(WavepoolError):
    """A delivery that can never succeed (e.g. the destination refuses the message)."""


class Subscriber(Protocol):
    """A surface that hears events: a chat bot, the federation, the scheduler."""

    @property
    def name(self) -> str:
        """Stable name; the key of its checkpoint."""
        ...

    @property
    def backlog(self) -> timedelta | None:
        """How far back it reads when it first runs (None: everything)."""
        ...

    @property
    def transactional(self) -> bool:
        """Whether its deliveries only write to the database: then each delivery and its
        checkpoint commit together (exactly once) instead of relying on a delivery key."""
        ...

    def ready(self) -> bool:
        """Whether it can take deliveries now."""
        ...

    async def deliver(self, event: RecordedEvent) -> None:
        """Act on one event; raising means "try again later"."""
        ...


class Dispatcher:
    """Delivers the outbox to the subscribers until cancelled."""

    def __init__(self, events: EventLog, subscribers: Sequence[Subscriber], clock: Clock, poll_s: float = 1.0) -> None:
        self._events = events
        self._clock = clock
        self._fresh: set[str] = set()
        self._subscribers = list(subscribers)
        self._poll_s = poll_s
        self._retry_at: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._caught_up: dict[str, int] = {}  # subscriber -> the outbox's last seq when it had delivered all
        self.delivered = 0

    @property
    def subscribers(self) -> list[str]:
        """The subscribers' names."""
        return [s.name for s in self._subscribers]

    async def run(self) -> None:
        """Deliver, then wait for new events (or the poll interval); forever."""
        while True:
            busy = await self.pump()
            if not busy:
                await self._events.wait_for_new(self._poll_s)

    async def pump(self) -> bool:
        """One pass over every subscriber; True if something was delivered.

        The outbox's newest seq is read once per pass; a subscriber that had delivered
        everything up to it is not asked again, so an idle instance costs one read a pass.
        """
        last = await self._events.last_seq()
        busy = False
        for subscriber in self._subscribers:
            if self._caught_up.get(subscriber.name) == last:
                continue
            if await self._drain(subscriber):
                busy = True
            elif subscriber.name not in self._retry_at and subscriber.ready():
                self._caught_up[subscriber.name] = last
        return busy

    async def behind(self) -> dict[str, int]:
        """Events each subscriber has not finished yet."""
        last = await self._events.last_seq()
        out: dict[str, int] = {}
        for subscriber in self._subscribers:
            done = await self._events.checkpoint(subscriber.name)
            out[subscriber.name] = last - (done or 0)
        return out

    async def _drain(self, subscriber: Subscriber) -> bool:
        loop = asyncio.get_running_loop()
        if not subscriber.ready() or loop.time() < self._retry_at.get(subscriber.name, 0.0):
            return False
        self._retry_at.pop(subscriber.name, None)
        done = await self._events.checkpoint(subscriber.name)
        if done is None:
            self._fresh.add(subscriber.name)
            done = 0
        batch = await self._events.after(done, BATCH)
        if not batch:
            self._fresh.discard(subscriber.name)
        backlog = subscriber.backlog
        cutoff = self._clock.now() - backlog if backlog is not None else None
        if subscriber.transactional and len(batch) > 1 and await self._deliver_together(subscriber, batch, cutoff):
            return True
        for recorded in batch:
            if subscriber.name in self._fresh and cutoff is not None and recorded.at < cutoff:
                await self._events.set_checkpoint(subscriber.name, recorded.seq)  # older than its backlog
                continue
            self._fresh.discard(subscriber.name)
            try:
                if subscriber.transactional:
                    async with self._events.transaction():
                        await subscriber.deliver(recorded)
                        await self._events.set_checkpoint(subscriber.name, recorded.seq)
                else:
                    await subscriber.deliver(recorded)
            except asyncio.CancelledError:
                raise
            except PermanentDeliveryError as error:
                log.error(
                    "%s could not take event %d (%s): %s; skipped for it",
                    subscriber.name,
                    recorded.seq,
                    recorded.kind.value,
                    error,
                )
                await self._events.set_checkpoint(subscriber.name, recorded.seq)
                continue
            except Exception as error:
                failures = self._failures.get(subscriber.name, 0) + 1
                self._failures[subscriber.name] = failures
                delay = min(MAX_BACKOFF_S, 0.5 * 2 ** min(failures, 10))
                self._retry_at[subscriber.name] = loop.time() + delay
                log.warning(
                    "%s failed on event %d (%s): %s: %s; retrying in %.1f s",
                    subscriber.name,
                    recorded.seq,
                    recorded.kind.value,
                    type(error).__name__,
                    error,
                    delay,
                )
                return False
            self._failures.pop(subscriber.name, None)
            if not subscriber.transactional:
                await self._events.set_checkpoint(subscriber.name, recorded.seq)
            self.delivered += 1
        return bool(batch)

    async def _deliver_together(
        self, subscriber: Subscriber, batch: Sequence[RecordedEvent], cutoff: datetime | None
    ) -> bool:
        """A transactional subscriber's batch in one transaction with its checkpoint; False if it failed.

        One commit a batch instead of one an event (a new instance replicating a history
        records hundreds of events, each heard by every subscriber). A failure rolls the
        whole batch back and the caller delivers it again one event at a time, which
        keeps the per-event rules: a permanent failure skips that event only, another
        holds the subscriber at that event with backoff.
        """
        fresh = subscriber.name in self._fresh
        delivered = 0
        try:
            async with self._events.transaction():
                for recorded in batch:
                    if fresh and cutoff is not None and recorded.at < cutoff:
                        continue  # older than its backlog
                    fresh = False
                    await subscriber.deliver(recorded)
                    delivered += 1
                await self._events.set_checkpoint(subscriber.name, batch[-1].seq)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.debug(
                "%s: a batch of %d events failed together (%s); one at a time", subscriber.name, len(batch), error
            )
            return False
        if not fresh:
            self._fresh.discard(subscriber.name)
        self._failures.pop(subscriber.name, None)
        self.delivered += delivered
        return True

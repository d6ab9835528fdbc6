"""The event flow: the outbox over memory and SQLite, and the dispatcher's delivery rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.events.dispatcher import Dispatcher, PermanentDeliveryError
from core.events.model import DomainEvent, EventKind, Origin, RecordedEvent
from core.events.ports import EventLog
from core.model import TrackId
from storage.memory_events import MemoryEventLog
from storage.sqlite.database import Database
from storage.sqlite.event_log import SqliteEventLog

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "memory"])
async def events(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventLog]:
    if request.param == "memory":
        yield MemoryEventLog()
        return
    db = await Database.open(tmp_path / "db.sqlite3")
    yield SqliteEventLog(db)
    await db.close()


class Recorder:
    """A subscriber that keeps what it was given; it can be down, failing, or refusing."""

    def __init__(self, name: str, backlog: timedelta | None = None, transactional: bool = False) -> None:
        self.name = name
        self.backlog = backlog
        self.transactional = transactional
        self.up = True
        self.failures = 0
        self.refuse: set[int] = set()
        self.got: list[int] = []

    def ready(self) -> bool:
        return self.up

    async def deliver(self, event: RecordedEvent) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("platform down")
        if event.seq in self.refuse:
            raise PermanentDeliveryError("the room refuses it")
        self.got.append(event.seq)


def _track(n: int) -> DomainEvent:
    return DomainEvent(EventKind.TRACK_ACCEPTED, track_id=TrackId(f"t{n}"))


async def test_events_round_trip_with_their_fields(events: EventLog) -> None:
    event = DomainEvent(
        EventKind.TRACK_REPLICATED,
        track_id=TrackId("t1"),
        origin=Origin.PEER,
        peer="Synth Club",
        reason="why",
        was_public=True,
    )
    digest = DomainEvent(EventKind.DIGEST_PUBLISHED, week_ending=NOW)
    assert await events.record(event, NOW) == 1
    assert await events.record(digest, NOW) == 2
    stored = await events.after(0)
    assert [e.event for e in stored] == [event, digest] and [e.seq for e in stored] == [1, 2]
    assert await events.last_seq() == 2 and await events.after(2) == []


async def test_events_recorded_together_keep_their_order_and_fields(events: EventLog) -> None:
    await events.record(_track(0), NOW)
    batch = [_track(1), DomainEvent(EventKind.TRACK_REPLICATED, track_id=TrackId("t2"), origin=Origin.PEER, peer="p")]
    await events.record_many(batch, NOW)
    await events.record_many([], NOW)
    stored = await events.after(0)
    assert [e.seq for e in stored] == [1, 2, 3] and [e.event for e in stored[1:]] == batch
    with pytest.raises(RuntimeError):
        async with events.transaction():
            await events.record_many([_track(4), _track(5)], NOW)
            raise RuntimeError("the state change failed")
    assert await events.last_seq() == 3


async def test_an_event_recorded_in_a_failed_transaction_is_never_seen(events: EventLog) -> None:
    with pytest.raises(RuntimeError):
        async with events.transaction():
            await events.record(_track(1), NOW)
            raise RuntimeError("the state change failed")
    async with events.transaction():
        await events.record(_track(2), NOW)
    assert [e.event.track_id for e in await events.after(0)] == ["t2"]


async def test_every_subscriber_gets_every_event_in_order_once(events: EventLog) -> None:
    a, b = Recorder("a"), Recorder("b", transactional=True)
    dispatcher = Dispatcher(events, [a, b], ManualClock(NOW))
    for n in range(5):
        await events.record(_track(n), NOW)
    while await dispatcher.pump():
        pass
    assert a.got == b.got == [1, 2, 3, 4, 5]
    assert await events.checkpoint("a") == await events.checkpoint("b") == 5
    # a restarted dispatcher (new process) delivers nothing again
    again = Dispatcher(events, [a, b], ManualClock(NOW))
    assert not await again.pump()
    assert a.got == [1, 2, 3, 4, 5]


async def test_a_subscriber_that_is_down_catches_up_without_holding_the_others(events: EventLog) -> None:
    up, down = Recorder("up"), Recorder("down")
    down.up = False
    dispatcher = Dispatcher(events, [up, down], ManualClock(NOW))
    for n in range(3):
        await events.record(_track(n), NOW)
    await dispatcher.pump()
    assert up.got == [1, 2, 3] and down.got == []
    assert (await dispatcher.behind())["down"] == 3
    down.up = True
    await dispatcher.pump()
    assert down.got == [1, 2, 3]


async def test_a_failing_delivery_is_retried_in_order_and_a_refused_one_skipped(events: EventLog) -> None:
    flaky = Recorder("flaky")
    flaky.failures = 1
    flaky.refuse = {2}
    dispatcher = Dispatcher(events, [flaky], ManualClock(NOW))
    for n in range(3):
        await events.record(_track(n), NOW)
    assert not await dispatcher.pump()  # the first delivery failed: nothing after it went out
    assert flaky.got == [] and await events.checkpoint("flaky") is None
    dispatcher._retry_at.clear()  # the backoff has passed
    await dispatcher.pump()
    assert flaky.got == [1, 3] and await events.checkpoint("flaky") == 3


async def test_a_new_chat_surface_skips_what_is_older_than_its_backlog(events: EventLog) -> None:
    await events.record(_track(1), NOW - timedelta(days=30))
    await events.record(_track(2), NOW - timedelta(hours=1))
    chat, federation = Recorder("chat", backlog=timedelta(days=1)), Recorder("federation")
    dispatcher = Dispatcher(events, [chat, federation], ManualClock(NOW))
    await dispatcher.pump()
    assert chat.got == [2] and federation.got == [1, 2]


class CountingLog:
    """The outbox, counting the reads a dispatcher pass makes."""

    def __init__(self, inner: EventLog) -> None:
        self.inner = inner
        self.reads = 0

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.inner, name)
        if name in ("last_seq", "checkpoint", "after"):

            async def counted(*args: object) -> object:
                self.reads += 1
                return await attr(*args)

            return counted
        return attr


async def test_an_idle_pass_reads_the_outbox_once_and_new_events_still_reach_everyone(events: EventLog) -> None:
    subscribers = [Recorder(f"s{n}") for n in range(4)]
    down = subscribers[3]
    down.up = False
    counting = CountingLog(events)
    dispatcher = Dispatcher(counting, subscribers, ManualClock(NOW))  # type: ignore[arg-type]
    await events.record(_track(1), NOW)
    while await dispatcher.pump():
        pass
    counting.reads = 0
    for _ in range(3):
        assert not await dispatcher.pump()
    # one read of the newest seq per pass; the down subscriber is not read while it is not ready
    assert counting.reads == 3
    await events.record(_track(2), NOW)
    down.up = True
    while await dispatcher.pump():
        pass
    assert [s.got for s in subscribers] == [[1, 2]] * 4


class TableRecorder:
    """A transactional subscriber whose deliveries are rows in the database (undone by a rollback)."""

    name = "table"
    backlog: timedelta | None = None
    transactional = True

    def __init__(self, db: Database) -> None:
        self.db = db
        self.failures: dict[int, int] = {}  # seq -> how many more times it fails
        self.refuse: set[int] = set()

    def ready(self) -> bool:
        return True

    async def deliver(self, event: RecordedEvent) -> None:
        await self.db.execute("INSERT INTO got(seq) VALUES (?)", (event.seq,))  # written first: a failure must undo it
        if self.failures.get(event.seq):
            self.failures[event.seq] -= 1
            raise ConnectionError("busy")
        if event.seq in self.refuse:
            raise PermanentDeliveryError("never")

    async def got(self) -> list[int]:
        return [r[0] for r in await self.db.fetchall("SELECT seq FROM got ORDER BY rowid")]


class CountingTransactions(CountingLog):
    def __init__(self, inner: EventLog) -> None:
        super().__init__(inner)
        self.transactions = 0

    def transaction(self) -> object:
        self.transactions += 1
        return self.inner.transaction()


@pytest.fixture
async def table_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "db.sqlite3")
    await db.execute("CREATE TABLE got(seq INTEGER NOT NULL)")
    yield db
    await db.close()


async def test_a_transactional_subscriber_takes_a_batch_in_one_transaction(table_db: Database) -> None:
    events = CountingTransactions(SqliteEventLog(table_db))
    subscriber = TableRecorder(table_db)
    for n in range(40):
        await events.record(_track(n), NOW)
    dispatcher = Dispatcher(events, [subscriber], ManualClock(NOW))  # type: ignore[arg-type]
    while await dispatcher.pump():
        pass
    assert await subscriber.got() == list(range(1, 41))
    assert events.transactions == 1 and await events.checkpoint("table") == 40
    assert dispatcher.delivered == 40


async def test_a_failure_in_a_batch_keeps_the_rules_of_one_event_at_a_time(table_db: Database) -> None:
    events = SqliteEventLog(table_db)
    subscriber = TableRecorder(table_db)
    subscriber.failures = {3: 2}  # the batch, then the retry of it one at a time
    subscriber.refuse = {4}
    for n in range(6):
        await events.record(_track(n), NOW)
    dispatcher = Dispatcher(events, [subscriber], ManualClock(NOW))
    assert not await dispatcher.pump()
    # the batch was undone and retried one at a time: 1 and 2 went through once, 3 holds the rest
    assert await subscriber.got() == [1, 2] and await events.checkpoint("table") == 2
    dispatcher._retry_at.clear()  # the backoff has passed
    while await dispatcher.pump():
        pass
    # 4 is refused for good (its row undone, skipped), the rest once each
    assert await subscriber.got() == [1, 2, 3, 5, 6] and await events.checkpoint("table") == 6


async def test_a_batch_skips_what_is_older_than_the_backlog(table_db: Database) -> None:
    events = SqliteEventLog(table_db)
    subscriber = TableRecorder(table_db)
    subscriber.backlog = timedelta(days=1)
    await events.record(_track(1), NOW - timedelta(days=30))
    await events.record(_track(2), NOW - timedelta(hours=1))
    await events.record(_track(3), NOW)
    dispatcher = Dispatcher(events, [subscriber], ManualClock(NOW))
    while await dispatcher.pump():
        pass
    assert await subscriber.got() == [2, 3] and await events.checkpoint("table") == 3

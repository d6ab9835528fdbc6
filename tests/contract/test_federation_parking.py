"""An item that cannot go out or come in parks with its error instead of jamming the line.

Runs over the SQLite and the in-memory federation store (the replication contract's nodes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from core.federation.event_types import MAX_ATTEMPTS
from core.federation.outcomes import OutcomeKind
from core.federation.ports import LastingSendError
from tests.contract import test_replication as replication
from tests.contract.test_replication import Node, _local_track

# The replication contract's fixtures: nodes over the SQLite and the in-memory store.
make_node = replication.make_node
net = replication.net


class RefusingTransport:
    """The room's transport, refusing for good every send whose content names ``refused``."""

    def __init__(self, inner: Any, refused: set[str]) -> None:
        self.inner, self.refused, self.attempts = inner, refused, 0

    async def upload(self, *args: Any) -> str:
        return str(await self.inner.upload(*args))

    async def send(self, event_type: str, content: Mapping[str, Any]) -> str:
        self.attempts += 1
        if str(content.get("manifest", {}).get("track_id")) in self.refused:
            raise LastingSendError("HTTP 413: event too large")
        return str(await self.inner.send(event_type, content))

    async def put_state(self, *args: Any) -> None:
        await self.inner.put_state(*args)

    async def withdraw(self, track_id: str, cid: str, reason: str | None) -> None:
        """Nothing of ours to take back in this fake room (the Matrix adapter redacts on Synapse)."""


async def test_a_refused_outbox_item_is_parked_and_the_rest_goes_out(net: list[Node]) -> None:
    a, b, _ = net
    stuck = await _local_track(a, b"first " * 500)
    after = await _local_track(a, b"second " * 500, id="t-after")
    a.rep.transport = RefusingTransport(a.rep.transport, {stuck.id})
    await a.rep.publish_track(stuck)
    await a.rep.publish_track(after)
    assert await a.rep.flush_outbox() == 2
    assert await a.store.outbox_pending(10) == []
    (parked,) = await a.store.outbox_parked(10)
    assert parked.kind == "track" and parked.content["track_id"] == stuck.id and "413" in (parked.last_error or "")
    assert await b.read() == ["queued"]  # the later track went out
    assert await a.rep.flush_outbox() == 0  # parked: not sent again on its own

    a.rep.transport.refused.clear()  # the operator fixed it (e.g. raised the limit)
    assert await a.store.outbox_retry(None) == 1
    assert await a.rep.flush_outbox() == 1
    assert await a.store.outbox_parked(10) == []
    assert await b.read() == ["queued"]


async def test_a_parked_outbox_item_can_be_dropped(net: list[Node]) -> None:
    a, _, _ = net
    stuck = await _local_track(a, b"first " * 500)
    a.rep.transport = RefusingTransport(a.rep.transport, {stuck.id})
    await a.rep.publish_track(stuck)
    await a.rep.flush_outbox()
    (parked,) = await a.store.outbox_parked(10)
    assert await a.store.outbox_drop(parked.id)
    assert await a.store.outbox_parked(10) == [] and await a.store.outbox_pending(10) == []
    assert not await a.store.outbox_drop(parked.id)


async def test_a_fetch_that_gives_up_is_parked_until_the_operator_retries(net: list[Node]) -> None:
    a, b, _ = net
    track = await _local_track(a, b"gone " * 700)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    saved = dict(a.room.media)
    a.room.media.clear()
    assert await b.read() == ["queued"]
    clock = b.rep._clock
    for _ in range(MAX_ATTEMPTS):
        await b.rep.run_queue()
        clock.advance(timedelta(hours=2))  # past any backoff
    assert len(b.sources.opened) == MAX_ATTEMPTS
    (parked,) = await b.store.parked_fetches(10)
    assert parked.track_id == track.id and parked.attempts == MAX_ATTEMPTS and "404" in (parked.last_error or "")
    assert await b.store.queue_counts() == {"waiting": 0, "retrying": 0, "parked": 1}
    assert await b.store.failures(10) == [] and await b.store.queue_size() == 0
    clock.advance(timedelta(days=60))
    assert await b.rep.run_queue() == 0 and len(b.sources.opened) == MAX_ATTEMPTS  # never on its own

    a.room.media.update(saved)
    assert await b.store.retry_fetches(track.id) == 1
    assert await b.store.queue_counts() == {"waiting": 1, "retrying": 0, "parked": 0}
    assert await b.rep.run_queue() == 1
    assert await b.tracks.get(track.id) is not None


async def test_a_parked_fetch_can_be_dropped(net: list[Node]) -> None:
    a, b, _ = net
    track = await _local_track(a, b"gone " * 700)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    a.room.media.clear()
    await b.read()
    for _ in range(MAX_ATTEMPTS):
        await b.rep.run_queue()
        b.rep._clock.advance(timedelta(hours=2))
    assert await b.store.drop_fetch(track.id)
    assert await b.store.parked_fetches(10) == [] and await b.store.queue_counts() == {
        "waiting": 0,
        "retrying": 0,
        "parked": 0,
    }


async def test_a_tombstone_read_while_its_blob_is_fetched_keeps_the_track_out(net: list[Node]) -> None:
    a, b, _ = net
    track = await _local_track(a, b"racing " * 700)
    await a.rep.publish_track(track)
    await a.rep.flush_outbox()
    assert await b.read() == ["queued"]
    gate = asyncio.Event()
    opened = b.sources.open

    async def slow_open(source: Mapping[str, str], max_bytes: int) -> AsyncIterator[bytes]:
        await gate.wait()  # the blob is on its way while the tombstone is read
        async for piece in opened(source, max_bytes):
            yield piece

    b.rep._sources = SimpleNamespace(open=slow_open)
    fetching = asyncio.create_task(b.rep.run_queue())
    await a.rep.publish_tombstone(track, "asked by the author")
    await a.rep.flush_outbox()
    assert [o.kind for o in await b.read()] == [OutcomeKind.NOTHING]  # not recorded yet: unknown here
    gate.set()
    assert await fetching == 0
    assert await b.tracks.get(track.id) is None and await b.store.queue_size() == 0

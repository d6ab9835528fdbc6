"""Fetching queued blobs from their sources, every byte verified against the CID."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import replace

from core.errors import IntegrityError, TooLargeError, WavepoolError
from core.events.model import DomainEvent, EventKind, Origin
from core.federation.event_types import MAX_ATTEMPTS, backoff
from core.federation.intake import tombstone_marker
from core.federation.manifest import (
    track_from_manifest,
)
from core.federation.peer_registry import PeerRegistry
from core.federation.ports import QueueItem
from core.model import Evidence, Strength, Track, TrackId

log = logging.getLogger(__name__)

REFILL_S = 0.05  # how often a running window looks for newly queued items


class Fetching(PeerRegistry):
    """Fetching queued blobs from their sources, every byte verified against the CID."""

    # -- fetching ----------------------------------------------------------------------

    async def run_queue(
        self, limit: int = 256, concurrency: int = 16, wave: int = 48, refill_s: float = REFILL_S
    ) -> int:
        """Fetch due blobs, ``concurrency`` at a time; returns how many tracks were stored.

        Fetches run as a sliding window (a slow blob holds up one slot, not a whole wave),
        and the window takes in items queued while it runs (a new instance reading its rooms'
        history queues them as it goes), up to ``limit`` per call; finished tracks are
        recorded ``wave`` at a time, one transaction each, while the other fetches go on. A
        crash between a blob's rename and its batch's commit leaves the blob without a track
        row and the queue item in place, so the next run records it (the blob is kept).
        """
        downloading = asyncio.Semaphore(concurrency)
        # Blobs fetched but not yet stored wait for the disk outside the download slots (the
        # homeserver keeps ``concurrency`` requests to serve), up to this many in all.
        held = asyncio.Semaphore(concurrency + concurrency // 2)
        results: asyncio.Queue[Track | None | BaseException] = asyncio.Queue()
        taken: set[TrackId] = set()  # started in this call (they stay in the queue until recorded)
        tasks: list[asyncio.Task[None]] = []
        loop = asyncio.get_running_loop()
        looked_at = loop.time()

        async def one(item: QueueItem) -> None:
            try:
                async with held:
                    results.put_nowait(await self._fetch(item, downloading))
            except Exception as error:  # handed to the loop below, which raises it
                results.put_nowait(error)

        async def take_due() -> int:
            """Start the due items not started yet; how many."""
            room = limit - len(taken)
            if room <= 0:
                return 0
            items = list(await self.store.due(self._clock.now(), room, exclude=taken))
            taken.update(item.track_id for item in items)
            known = await self.store.recorded(item.track_id for item in items)
            for track_id in known:  # recorded meanwhile (shared here too, or fetched by an earlier run)
                await self.store.finish(track_id)
            fresh = [item for item in items if item.track_id not in known]
            tasks.extend(asyncio.ensure_future(one(item)) for item in fresh)
            return len(fresh)

        outstanding = await take_due()
        stored = 0
        batch: list[Track] = []
        try:
            while outstanding:
                result = await results.get()
                outstanding -= 1
                if isinstance(result, BaseException):
                    raise result
                if result is not None:
                    batch.append(result)
                if len(batch) >= wave:
                    stored += await self._record_fetched(batch)
                    batch = []
                # Slots about to go idle: look for items queued since (at most every ``refill_s``).
                if outstanding <= concurrency and loop.time() - looked_at >= refill_s:
                    looked_at = loop.time()
                    outstanding += await take_due()
            if batch:
                stored += await self._record_fetched(batch)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return stored

    async def _record_fetched(self, fetched: list[Track]) -> int:
        """Make the blobs' names durable, then record the tracks in one transaction; how many."""
        # A tombstone from the origin may have been read while the blob was on its way.
        markers = {tombstone_marker(t.id, t.origin_instance): t for t in fetched}
        gone = [markers[m] for m in sorted(await self.store.seen_many(list(markers)))]
        for track in gone:
            log.debug("%s was taken down by its origin while it was fetched: not recorded", track.id)
            await self.store.finish(track.id)
            fetched.remove(track)
        if not fetched:
            return 0
        await self._pool.sync_names()  # one journal commit for the batch, before the rows say "here"
        now = self._clock.now()
        names: dict[str, str] = {}  # origin instance -> how its events name it
        for origin in {t.origin_instance for t in fetched}:
            peer = await self.store.peer_by_instance(origin)
            names[origin] = (peer.community or peer.name) if peer else origin
        replicated = [
            DomainEvent(EventKind.TRACK_REPLICATED, track_id=t.id, origin=Origin.PEER, peer=names[t.origin_instance])
            for t in fetched
        ]
        async with self._events.transaction(), self.store.atomic():
            await self._tracks.add_many(fetched)
            await self._events.record_many(replicated, now)
            await self.store.finish_many([t.id for t in fetched])
            if self.transport is not None:  # announce "have": one more source for the others
                await self.store.outbox_add_many("have", [{"track_id": t.id, "cid": t.cid} for t in fetched])
        for track in fetched:  # one line per replicated track, after its commit
            log.info(
                "replicated %s %r (%s, %d bytes) from %s",
                track.id,
                track.title or "",
                track.cid,
                track.size,
                track.origin_instance,
            )
        return len(fetched)

    async def _fetch(self, item: QueueItem, downloading: asyncio.Semaphore) -> Track | None:
        """Get the blob from the first source that serves the right bytes; the track to record.

        A download slot is held while the bytes come in, not while they are checked and stored."""
        errors: list[str] = []
        have = await self._pool.has(item.cid)
        for source in item.sources:
            if have:
                break
            try:
                stream = _in_slot(downloading, self._sources.open(source, self.policy.max_track_bytes))
                async with contextlib.aclosing(stream):  # a refused stream frees its slot now, not at GC
                    await self._pool.put_stream(
                        stream,
                        max_size=self.policy.max_track_bytes,
                        expect=item.cid,
                        sync_name=False,  # made durable by sync_names() before the batch is recorded
                    )
                have = True
            except (IntegrityError, TooLargeError, WavepoolError, OSError) as error:
                errors.append(f"{_describe(source)}: {error}")
                log.warning("fetching %s from %s failed: %s", item.cid, _describe(source), error)
            except Exception as error:  # a transport error of any kind: try the next source
                errors.append(f"{_describe(source)}: {type(error).__name__}: {error}")
                log.warning("fetching %s from %s failed: %r", item.cid, _describe(source), error)
        if not have:
            self.failed_fetches += 1
            attempts = item.attempts + 1
            message = "; ".join(errors) or "no source listed"
            if attempts >= MAX_ATTEMPTS:
                # Parked, not retried in weeks: `wavepool federation status` lists it, and
                # `federation retry|drop` decides.
                log.error("giving up on %s after %d attempts (parked): %s", item.cid, attempts, message)
                await self.store.park_fetch(item.track_id, message[:1000])
            else:
                await self.store.retry_later(item.track_id, message[:1000], self._clock.now() + backoff(attempts))
            return None
        track = track_from_manifest(item.manifest)
        origin = item.manifest.get("origin", {}).get("name") or track.origin_instance
        track = replace(
            track,
            evidence=(
                *track.evidence,
                Evidence(
                    "federation",
                    f"origin:{track.origin_instance}",
                    Strength.INFO,
                    f"replicated from {origin}; bytes verified against the CID",
                    {"origin": track.origin_instance},
                ),
            ),
        )
        return track


async def _in_slot(slot: asyncio.Semaphore, chunks: AsyncIterator[bytes]) -> AsyncGenerator[bytes, None]:
    """The chunks of a stream, read while holding ``slot``; it is free again once the stream ends
    or is closed (the stream is closed with it: its connection goes back at once)."""
    async with slot:
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()


def _describe(source: Mapping[str, str]) -> str:
    return next(iter(source.values()), "?")[:120]

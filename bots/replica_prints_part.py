"""Fingerprinting replicated tracks in the background (``core.federation.replica_fingerprints``).

A subscriber of the event flow: each ``TRACK_REPLICATED`` event queues its track in the
database together with this part's checkpoint (exactly once), and wakes the worker, which
fingerprints queued tracks outside the dispatcher (an fpcalc run must not hold up the
chat bots' posts). The queue is durable: what was queued before a restart is done after it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bots.instance import Instance
from core.events.model import EventKind, RecordedEvent
from core.federation.replica_fingerprints import ReplicaFingerprints
from core.waiting import wait_until_set
from storage.media.fingerprint import fingerprint
from storage.sqlite.federation_store import SqliteFederationStore
from storage.sqlite.replica_print_store import SqliteReplicaPrintStore

log = logging.getLogger(__name__)

IDLE_WAIT_S = 60.0  # a pass even without an event (work queued while the worker was busy or down)
FETCHING_WAIT_S = 1.0  # how often to look again while blobs are still being fetched


class ReplicaPrintsPart:
    """Queues replicated tracks (subscriber) and fingerprints them (worker)."""

    name = "replica-fingerprints"
    backlog: timedelta | None = None  # every replicated track, also those from before this part existed
    transactional = True

    def __init__(self, instance: Instance) -> None:
        app = instance.app
        self._clock = app.clock
        self._fetch_queue = SqliteFederationStore(instance.db)
        self.service = ReplicaFingerprints(
            tracks=app.tracks,
            pool=app.pool,
            manifests=SqliteFederationStore(instance.db),
            store=SqliteReplicaPrintStore(instance.db),
            fingerprinter=fingerprint,
            clock=app.clock,
            threshold=instance.settings.ingest.near_duplicate_threshold,
        )
        self._wake = asyncio.Event()
        self._running = False

    def ready(self) -> bool:
        """Always: queuing is one database write."""
        return True

    def health(self) -> str:
        """``ok`` while the worker runs."""
        return "ok" if self._running else "starting"

    async def deliver(self, event: RecordedEvent) -> None:
        """Queue a replicated track (in the dispatcher's transaction) and wake the worker."""
        if event.kind is EventKind.TRACK_REPLICATED and event.event.track_id is not None:
            await self.service.enqueue(event.event.track_id)
            self._wake.set()

    async def _fetching(self) -> bool:
        """Whether blobs are due to be fetched (replication goes first)."""
        try:
            return bool(await self._fetch_queue.due(self._clock.now(), 1))
        except Exception:  # the database is busy for a moment: fingerprint anyway
            log.debug("could not read the fetch queue", exc_info=True)
            return False

    async def run(self) -> None:
        """Fingerprint queued tracks until cancelled; waits while blobs are being fetched."""
        self._running = True
        try:
            while True:
                self._wake.clear()
                if await self._fetching():
                    # Fetching first: an fpcalc run costs ~0.1 s of CPU even on a short
                    # blob, and on a small machine it slowed a replication to half speed.
                    await wait_until_set(self._wake, FETCHING_WAIT_S)
                    continue
                try:
                    done = await self.service.run_due()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database is busy or gone for a moment: try again later
                    log.exception("fingerprinting replicated tracks failed")
                    done = 0
                if done:
                    continue
                await wait_until_set(self._wake, IDLE_WAIT_S)
        finally:
            self._running = False

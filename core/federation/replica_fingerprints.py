"""Fingerprinting replicated tracks, so re-uploads of a peer's track are caught here too.

A peer's manifest may carry the fingerprint its origin computed (``manifest.fingerprint``).
It is a claim: a peer could send any numbers. Before indexing it, a sample is checked
locally: the first ``sample_s`` seconds of the fetched blob are fingerprinted (one short
fpcalc run, ~50-100 ms) and compared with the claimed fingerprint's start. When they agree
the claimed fingerprint (two minutes) is indexed; when they disagree, or the manifest has
none, the blob is fingerprinted here in full and that is indexed. The work is queued
durably by the ``TRACK_REPLICATED`` event and done in the background, never in the fetch
path (replication stays as fast as the blobs arrive).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from core.federation.manifest import fingerprint_from_manifest
from core.fingerprint import similarity
from core.model import Cid, Fingerprint, TrackId, TrackStatus
from core.ports import Clock, TrackRepository

log = logging.getLogger(__name__)

Fingerprinter = Callable[[Path, int], Awaitable[Fingerprint | None]]
"""(audio file, seconds from the start) -> its Chromaprint fingerprint, or None."""


class ReplicaPrint(enum.StrEnum):
    """How a replicated track's fingerprint was settled."""

    PENDING = "pending"
    CLAIM_CHECKED = "claim_checked"  # the manifest's fingerprint, agreeing with a local sample
    LOCAL = "local"  # no fingerprint in the manifest: computed here
    MISMATCH = "mismatch"  # the manifest's fingerprint disagreed with the audio: ours indexed instead
    NOT_AUDIO = "not_audio"  # nothing to fingerprint
    GONE = "gone"  # taken down or its blob is missing


class ReplicaPrintStore(Protocol):
    """The durable queue of replicated tracks to fingerprint."""

    async def enqueue(self, track_id: TrackId) -> None:
        """Queue a track (once)."""
        ...

    async def pending(self, limit: int) -> Sequence[TrackId]:
        """Tracks still to fingerprint, oldest first."""
        ...

    async def settle(self, track_id: TrackId, state: ReplicaPrint, detail: str, at: datetime) -> None:
        """Record how a track was settled."""
        ...

    async def state(self, track_id: TrackId) -> ReplicaPrint | None:
        """How a track was settled (None: never queued)."""
        ...


class ManifestSource(Protocol):
    """Where the stored manifests of replicated tracks are read."""

    async def manifest(self, track_id: TrackId) -> Mapping[str, Any] | None:
        """The stored manifest of a track."""
        ...


class BlobPaths(Protocol):
    """The part of the blob pool this needs."""

    async def local_path(self, cid: Cid) -> Path | None:
        """Where a blob's bytes are on disk."""
        ...


class ReplicaFingerprints:
    """Queues and indexes replicated tracks' fingerprints (see the module docstring)."""

    def __init__(
        self,
        tracks: TrackRepository,
        pool: BlobPaths,
        manifests: ManifestSource,
        store: ReplicaPrintStore,
        fingerprinter: Fingerprinter,
        clock: Clock,
        threshold: float = 0.85,
        sample_s: int = 30,
        full_s: int = 180,
    ) -> None:
        self._tracks = tracks
        self._pool = pool
        self._manifests = manifests
        self._store = store
        self._fingerprint = fingerprinter
        self._clock = clock
        self._threshold = threshold
        self._sample_s = sample_s
        self._full_s = full_s

    async def enqueue(self, track_id: TrackId) -> None:
        """Queue a replicated track for fingerprinting."""
        await self._store.enqueue(track_id)

    async def run_due(self, limit: int = 20) -> int:
        """Fingerprint up to ``limit`` queued tracks; how many were settled."""
        done = 0
        for track_id in await self._store.pending(limit):
            try:
                state, detail = await self.index_one(track_id)
            except Exception as error:  # one bad blob must not stop the queue
                log.exception("fingerprinting replicated track %s failed", track_id)
                state, detail = ReplicaPrint.NOT_AUDIO, f"{type(error).__name__}: {error}"[:500]
            await self._store.settle(track_id, state, detail, self._clock.now())
            done += 1
        return done

    async def index_one(self, track_id: TrackId) -> tuple[ReplicaPrint, str]:
        """Fingerprint one replicated track and index it; how it was settled and why."""
        track = await self._tracks.get(track_id)
        if track is None or track.status is TrackStatus.TAKEN_DOWN:
            return ReplicaPrint.GONE, "the track is gone"
        path = await self._pool.local_path(track.cid)
        if path is None:
            return ReplicaPrint.GONE, "the blob is not here"
        manifest = await self._manifests.manifest(track_id)
        claimed = fingerprint_from_manifest(manifest) if manifest is not None else None
        if claimed is not None:
            sample = await self._fingerprint(path, self._sample_s)
            if sample is None:
                return ReplicaPrint.NOT_AUDIO, "the manifest claims a fingerprint, but the blob has none"
            score = similarity(sample.values, claimed.values[: len(sample.values)])
            if score >= self._threshold:
                await self._tracks.add_fingerprint(track_id, claimed)
                return ReplicaPrint.CLAIM_CHECKED, f"first {self._sample_s} s agree ({score:.0%})"
            log.warning(
                "replicated track %s: its manifest's fingerprint does not match its audio (%.2f)", track_id, score
            )
        local = await self._fingerprint(path, self._full_s)
        if local is None:
            return ReplicaPrint.NOT_AUDIO, "no fingerprint could be computed"
        await self._tracks.add_fingerprint(track_id, local)
        if claimed is not None:
            return ReplicaPrint.MISMATCH, "the manifest's fingerprint does not match the audio; ours is indexed"
        return ReplicaPrint.LOCAL, "fingerprinted here"

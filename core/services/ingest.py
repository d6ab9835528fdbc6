"""Ingest: take a file (or a link's download) into the pool with its provenance.

Order matters for durability: the bytes are checked first (nothing is stored for a file
we reject), then written to the pool atomically, and only then is the track row added in
one transaction. A crash between the two leaves an unreferenced blob for garbage
collection, never a track without its blob.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import TypeVar

from core.cards import duration_text
from core.errors import LowQualityError, NotFoundError, TooLargeError, TooLongError
from core.events.model import DomainEvent, EventKind
from core.events.ports import EventLog
from core.model import (
    Declaration,
    Evidence,
    Fingerprint,
    InstanceId,
    PageInfo,
    Share,
    Sharer,
    Track,
    TrackId,
    TrackStatus,
    Verdict,
)
from core.ports import BlobPool, Clock, LinkFetcher, MediaInspector, TrackRepository
from core.services import provenance
from core.services.confirmation import ConfirmationService
from core.services.first_sharer import ClaimSource, first_sharer_evidence, settle_first_sharer
from core.services.near_duplicates import score_candidates
from core.services.provenance import NearDuplicate, ProvenanceRules
from core.services.quality_gate import LowQualityAction, QualityRules, check_quality, gate_evidence

log = logging.getLogger(__name__)

T = TypeVar("T")
STAGES = ("probe", "store", "tags", "c2pa", "quality", "fingerprint", "near_duplicates", "record")


@dataclass(frozen=True)
class IngestLimits:
    """Caps from config [ingest]."""

    max_bytes: int = 50 * 1024 * 1024
    max_duration_s: float = 900.0
    min_duration_s: float = 1.0
    near_duplicate_threshold: float = 0.85


@dataclass(frozen=True)
class IngestResult:
    """The track a share ended in, and whether it was new to the pool."""

    track: Track
    is_new: bool
    message: str


def _title_from(filename: str | None) -> str | None:
    if not filename:
        return None
    # Only the last path element, whatever separators a member sent ("../../x.mp3").
    name = PurePath(filename.replace("\\", "/")).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return stem.strip() or None


GenreClassifier = Callable[[Track, str | None], str | None]
"""(track, its genre tag) -> the genre it goes to, or None."""


class IngestService:
    """Takes tracks in: probe, store, gather evidence, decide, record."""

    def __init__(
        self,
        pool: BlobPool,
        tracks: TrackRepository,
        inspector: MediaInspector,
        clock: Clock,
        instance: InstanceId,
        limits: IngestLimits,
        rules: ProvenanceRules,
        events: EventLog,
        fetcher: LinkFetcher | None = None,
        work_dir: Path | None = None,
        classify_genre: GenreClassifier | None = None,
        confirmations: ConfirmationService | None = None,
        quality_rules: QualityRules | None = None,
        claims: ClaimSource | None = None,
    ) -> None:
        self._pool = pool
        self._tracks = tracks
        self._inspector = inspector
        self._clock = clock
        self._instance = instance
        self.limits = limits
        self._rules = rules
        self._fetcher = fetcher
        self._work_dir = work_dir
        self._events = events
        self._classify_genre = classify_genre
        self._confirmations = confirmations
        self._quality_rules = quality_rules or QualityRules()
        self._claims = claims  # issue 12: first sharer across instances, by federation event time
        # seconds spent per stage since start (for /metrics and bench/ingest.py)
        self.stage_seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self.stage_counts: dict[str, int] = dict.fromkeys(STAGES, 0)

    async def _timed(self, stage: str, work: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            return await work
        finally:
            self.stage_seconds[stage] += time.perf_counter() - started
            self.stage_counts[stage] += 1

    async def ingest_file(
        self,
        path: Path,
        sharer: Sharer,
        declaration: Declaration | None = None,
        place: str = "cli",
        filename: str | None = None,
        page: PageInfo | None = None,
        source_url: str | None = None,
    ) -> IngestResult:
        """Ingest a local file; raises an InputError subclass for files we refuse."""
        declaration = declaration or Declaration()
        size = path.stat().st_size
        if size > self.limits.max_bytes:
            raise TooLargeError(
                f"the file is {size / 1048576:.1f} MB; this community accepts up to "
                f"{self.limits.max_bytes / 1048576:.0f} MB"
            )
        info = await self._timed("probe", self._inspector.probe(path))
        if info.duration_s > self.limits.max_duration_s:
            raise TooLongError(
                f"the track is {duration_text(info.duration_s)} long; the limit is "
                f"{duration_text(self.limits.max_duration_s)}"
            )
        if info.duration_s < self.limits.min_duration_s:
            raise TooLongError(f"the track is only {info.duration_s:.1f} s long; too short to be a track")
        cid, size = await self._timed("store", self._pool.put_file(path, max_size=self.limits.max_bytes))
        now = self._clock.now()
        existing = list(await self._tracks.find_by_cid(cid))
        if existing:
            return await self._already_known(existing[0], sharer, place, now)
        tags, c2pa, quality, fingerprint = await asyncio.gather(
            self._timed("tags", self._inspector.tags(path)),
            self._timed("c2pa", self._inspector.c2pa(path, info.media_type)),
            self._timed("quality", self._inspector.quality(path)),
            self._timed("fingerprint", self._inspector.fingerprint(path)),
        )
        # issue 12: quality gates (silence, one tone, a noise floor) before anything is recorded
        finding = check_quality(info, quality, fingerprint, self._quality_rules)
        if finding is not None and self._quality_rules.action is LowQualityAction.REFUSE:
            if not await self._tracks.find_by_cid(cid):  # nothing is kept for a refused file
                await self._pool.delete(cid)
            raise LowQualityError(f"this does not sound like a track: {finding.reason}")
        near = await self._timed("near_duplicates", self._near_duplicates(fingerprint))
        sharer_key = (sharer.platform, sharer.user_id)
        evidence = [
            provenance.container_evidence(info),
            *provenance.tag_evidence(tags),
            *provenance.c2pa_evidence(c2pa),
            *provenance.page_evidence(page),
            *provenance.declaration_evidence(declaration),
            *provenance.near_duplicate_evidence(near, sharer_key),
            *await self._first_sharer(near),
            *([gate_evidence(finding, self._quality_rules)] if finding else []),
        ]
        verdict, reason = provenance.decide(evidence, declaration, self._rules)
        generators = provenance.claimed_generators(evidence)
        generator = declaration.generator or (next(iter(generators)) if generators else None)
        song_ids = [e.data["song_id"] for e in evidence if e.claim.startswith("generator:") and e.data.get("song_id")]
        title = (
            declaration.title
            or tags.title
            or (page.title if page else None)
            or _title_from(filename or path.name)
            or "untitled"
        )
        track = Track(
            id=TrackId(secrets.token_hex(8)),
            cid=cid,
            size=size,
            media_type=info.media_type,
            duration_s=round(info.duration_s, 3),
            title=title[:300],
            sharer=sharer,
            first_seen_at=now,
            origin_instance=self._instance,
            verdict=verdict,
            verdict_reason=reason,
            evidence=tuple(evidence),
            artist=(tags.artist or (page.creator if page else None)),
            genre=declaration.genre,
            tags=tuple(page.tags) if page else (),
            prompt=declaration.prompt or (page.prompt if page else None),
            style=declaration.style or tags.style or (page.style if page else None),
            lyrics=tags.lyrics or (page.lyrics if page else None),
            generator=generator.lower() if generator else None,
            generator_song_id=str(song_ids[0]) if song_ids else None,
            source_url=source_url or (page.canonical_url or page.url if page else None) or tags.url,
            quality=quality,
        )
        if self._classify_genre is not None:
            track = replace(track, genre=self._classify_genre(track, tags.genre))
        await self._timed("record", self._record(track, fingerprint, Share(track.id, sharer, now, place)))
        if self._confirmations is not None:  # issue 12: the generator confirms (or not) later
            await self._confirmations.enqueue(track, fingerprint, tags.title)
        log.info("ingested %s as %s (%s: %s)", title, cid, verdict.value, reason)
        return IngestResult(track, True, f"{verdict.value}: {reason}")

    async def ingest_url(
        self,
        url: str,
        sharer: Sharer,
        declaration: Declaration | None = None,
        place: str = "cli",
    ) -> IngestResult:
        """Download a shared link and ingest it with its page's evidence."""
        declaration = declaration or Declaration()
        if self._fetcher is None or self._work_dir is None:
            raise NotFoundError("this instance cannot fetch links")
        self._work_dir.mkdir(parents=True, exist_ok=True)
        fetched = await self._fetcher.fetch(url, self._work_dir, self.limits.max_bytes)
        try:
            return await self.ingest_file(
                fetched.path,
                sharer,
                declaration,
                place,
                filename=fetched.page.title or fetched.path.name,
                page=fetched.page,
                source_url=fetched.page.canonical_url or url,
            )
        finally:
            fetched.path.unlink(missing_ok=True)

    async def _record(self, track: Track, fingerprint: Fingerprint | None, share: Share) -> None:
        """The track, its share, its fingerprint and the event that announces it, as one."""
        kind = {
            Verdict.VERIFIED: EventKind.TRACK_ACCEPTED,
            Verdict.DECLARED: EventKind.TRACK_ACCEPTED,
            Verdict.QUARANTINED: EventKind.TRACK_QUARANTINED,
        }.get(track.verdict)
        async with self._events.transaction():
            await self._tracks.add(track, share=share, fingerprint=fingerprint)
            if kind is not None:
                await self._events.record(DomainEvent(kind, track_id=track.id), share.shared_at)

    async def _already_known(self, track: Track, sharer: Sharer, place: str, now: datetime) -> IngestResult:
        if track.status is TrackStatus.TAKEN_DOWN:
            raise NotFoundError("this track was taken down by the moderators and cannot be shared again")
        await self._tracks.add_share(Share(track.id, sharer, now, place))
        same = (track.sharer.platform, track.sharer.user_id) == (sharer.platform, sharer.user_id)
        if same:
            message = "you already shared this track"
        elif self._claims is not None:  # a peer's track names its community (issue 12)
            settled = settle_first_sharer([await self._claims.claim(track)])
            first = settled.first
            assert first is not None
            message = f"already in the pool: first shared by {first.sharer} in {first.community} on " + (
                f"{datetime.fromtimestamp(first.origin_server_ts / 1000, UTC):%Y-%m-%d}"
                if first.origin_server_ts is not None
                else f"{track.first_seen_at:%Y-%m-%d}"
            )
        else:
            message = (
                f"already in the pool: first shared by {track.sharer.display_name} on {track.first_seen_at:%Y-%m-%d}"
            )
        return IngestResult(track, False, message)

    async def _first_sharer(self, near: list[NearDuplicate]) -> list[Evidence]:
        """Who shared the matched sound first, settled by federation event times (not manifest dates)."""
        if not near or self._claims is None:
            return []
        claims = [await self._claims.claim(item.track) for item in near]
        found = first_sharer_evidence(settle_first_sharer(claims))
        return [found] if found is not None else []

    async def _near_duplicates(self, fingerprint: Fingerprint | None) -> list[NearDuplicate]:
        if fingerprint is None:
            return []
        out: list[NearDuplicate] = []
        candidates = await self._tracks.fingerprint_candidates(fingerprint)
        # issue 12: candidates come from the LSH index (storage.sqlite.near_dup_index); scored off the loop
        for track_id, score in await score_candidates(fingerprint, candidates, self.limits.near_duplicate_threshold):
            track = await self._tracks.get(track_id)
            if track is not None and track.status is TrackStatus.ACTIVE:
                out.append(NearDuplicate(track, score))
        out.sort(key=lambda n: -n.similarity)
        return out[:3]

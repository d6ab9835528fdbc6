"""Generator confirmation: ask the generator itself whether it made this audio.

Tags that say "made with suno; id=…" are a claim anybody can write. After a track is
accepted as ``declared``, ``ConfirmationService`` asks the generator's public page for
that song id (through a ``GeneratorConfirmer``), fingerprints what the page serves and
compares it with the file:

* same audio, duration within tolerance and a matching title  -> ``verified``;
* same audio under another title                            -> unchanged, evidence kept;
* different audio, or a page without that song              -> conflict -> ``quarantined``;
* not public (401/403/404/410)                              -> unchanged, evidence kept;
* unreachable                                                -> unchanged, retried with backoff.

``confirm_due(now)`` is what the scheduler calls; each outcome that changed a verdict
is for the caller to turn into a domain event (the posted card updates).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.events.model import DomainEvent, EventKind
from core.events.ports import EventLog
from core.fingerprint import similarity
from core.model import Evidence, Fingerprint, Strength, Track, TrackId, TrackStatus, Verdict
from core.ports import Clock, TrackRepository
from core.provenance_ports import (
    ConfirmationState,
    ConfirmationStore,
    GeneratorConfirmer,
    GeneratorPage,
    LookupStatus,
    PageLookup,
    PendingConfirmation,
)
from core.services.provenance import CONFIRMED, CONFLICT
from core.visibility import is_public

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfirmationPolicy:
    """Thresholds and retry timing (from config [provenance])."""

    match_threshold: float = 0.85  # fingerprint similarity that counts as the same audio
    duration_tolerance_s: float = 2.0  # plus 3 % of the length
    retry_base_s: float = 60.0
    retry_max_s: float = 6 * 3600.0
    max_attempts: int = 10
    cache_ttl_s: float = 24 * 3600.0
    quarantine_conflicts: bool = True


@dataclass(frozen=True)
class ConfirmationOutcome:
    """What one confirmation attempt did to one track."""

    track_id: TrackId
    state: ConfirmationState
    verdict_before: Verdict | None
    verdict_after: Verdict | None
    reason: str
    evidence: Evidence | None = None

    @property
    def verdict_changed(self) -> bool:
        """Whether the track's verdict changed (the card must be updated)."""
        return self.verdict_before is not self.verdict_after


def _norm_title(title: str | None) -> str:
    return re.sub(r"[\W_]+", "", (title or "").casefold())


def titles_agree(a: str | None, b: str | None) -> bool:
    """Titles agree when either is unknown, or one contains the other ignoring case and punctuation."""
    left, right = _norm_title(a), _norm_title(b)
    if not left or not right:
        return True
    return left in right or right in left


def backoff_s(attempts: int, policy: ConfirmationPolicy) -> float:
    """Seconds before the next try after ``attempts`` failures (doubling, capped)."""
    return float(min(policy.retry_max_s, policy.retry_base_s * 2 ** max(0, attempts - 1)))


class ConfirmationService:
    """Queues declared tracks for their generator's confirmation and settles them."""

    def __init__(
        self,
        store: ConfirmationStore,
        confirmers: Sequence[GeneratorConfirmer],
        tracks: TrackRepository,
        clock: Clock,
        policy: ConfirmationPolicy | None = None,
        events: EventLog | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._confirmers = {c.generator: c for c in confirmers}
        self._tracks = tracks
        self._clock = clock
        self._policy = policy or ConfirmationPolicy()

    def supports(self, generator: str | None) -> bool:
        """Whether a confirmer exists for this generator."""
        return bool(generator) and generator in self._confirmers

    async def enqueue(self, track: Track, fingerprint: Fingerprint | None, file_title: str | None) -> bool:
        """Queue an accepted track whose evidence names a generator song we can check."""
        if track.verdict is not Verdict.DECLARED or not track.generator_song_id:
            return False
        if not self.supports(track.generator):
            return False
        assert track.generator is not None
        item = PendingConfirmation(
            track.id,
            track.generator,
            track.generator_song_id,
            track.cid,
            track.duration_s,
            file_title,
            fingerprint,
            0,
            self._clock.now(),
        )
        return await self._store.enqueue(item)

    async def confirm_due(self, now: datetime | None = None, limit: int = 20) -> list[ConfirmationOutcome]:
        """Process every confirmation due at ``now``; one outcome per track handled."""
        now = now or self._clock.now()
        outcomes = []
        for item in await self._store.due(now, limit):
            try:
                outcomes.append(await self._confirm(item, now))
            except Exception:  # one broken track must not stop the others
                log.exception("confirming track %s failed", item.track_id)
                await self._store.retry_later(
                    item.track_id,
                    item.attempts + 1,
                    now + timedelta(seconds=self._policy.retry_max_s),
                    "internal error",
                )
        return outcomes

    async def _look_up(self, item: PendingConfirmation, now: datetime) -> PageLookup:
        fresh_since = now - timedelta(seconds=self._policy.cache_ttl_s)
        cached = await self._store.cached_page(item.generator, item.song_id, fresh_since)
        if cached is not None:
            return cached
        lookup = await self._confirmers[item.generator].look_up(item.song_id)
        if lookup.status is not LookupStatus.UNREACHABLE:
            await self._store.cache_page(lookup, item.generator, item.song_id, now)
        return lookup

    async def _confirm(self, item: PendingConfirmation, now: datetime) -> ConfirmationOutcome:
        track = await self._tracks.get(item.track_id)
        if track is None or track.status is not TrackStatus.ACTIVE:
            await self._store.finish(item.track_id, ConfirmationState.SKIPPED, now, None)
            return ConfirmationOutcome(item.track_id, ConfirmationState.SKIPPED, None, None, "track gone")
        if item.generator not in self._confirmers:
            await self._store.finish(item.track_id, ConfirmationState.SKIPPED, now, None)
            return ConfirmationOutcome(
                item.track_id,
                ConfirmationState.SKIPPED,
                track.verdict,
                track.verdict,
                f"no confirmer for {item.generator}",
            )
        lookup = await self._look_up(item, now)
        if lookup.status is LookupStatus.UNREACHABLE:
            return await self._unreachable(item, track, lookup, now)
        state, evidence = await self._judge(item, lookup)
        verdict, reason = track.verdict, track.verdict_reason
        if state is ConfirmationState.CONFIRMED and track.verdict is Verdict.DECLARED:
            verdict, reason = Verdict.VERIFIED, evidence.detail
        elif (
            state in (ConfirmationState.MISMATCH, ConfirmationState.MISSING)
            and self._policy.quarantine_conflicts
            and track.verdict in (Verdict.DECLARED, Verdict.VERIFIED)
        ):
            verdict, reason = Verdict.QUARANTINED, evidence.detail
        kept = tuple(e for e in track.evidence if e.source != "confirmation")
        await self._record(track, verdict, reason, (*kept, evidence), now)
        await self._store.finish(item.track_id, state, now, evidence)
        log.info(
            "confirmation of %s by %s: %s (%s -> %s)",
            track.id,
            item.generator,
            state.value,
            track.verdict.value,
            verdict.value,
        )
        return ConfirmationOutcome(track.id, state, track.verdict, verdict, reason, evidence)

    async def _record(
        self, track: Track, verdict: Verdict, reason: str, evidence: tuple[Evidence, ...], now: datetime
    ) -> None:
        """The new verdict and, when it changed, its event (the bots and the federation hear of it)."""
        if self._events is None:
            await self._tracks.set_verdict(track.id, verdict, reason, evidence=evidence)
            return
        kind = {Verdict.VERIFIED: EventKind.TRACK_VERIFIED, Verdict.QUARANTINED: EventKind.TRACK_QUARANTINED}.get(
            verdict
        )
        async with self._events.transaction():
            await self._tracks.set_verdict(track.id, verdict, reason, evidence=evidence)
            if kind is not None and verdict is not track.verdict:
                await self._events.record(
                    DomainEvent(kind, track_id=track.id, reason=reason, was_public=is_public(track)), now
                )

    async def _unreachable(
        self, item: PendingConfirmation, track: Track, lookup: PageLookup, now: datetime
    ) -> ConfirmationOutcome:
        attempts = item.attempts + 1
        if attempts >= self._policy.max_attempts:
            evidence = Evidence(
                "confirmation",
                f"generator-unreachable:{item.generator}",
                Strength.INFO,
                f"{item.generator} could not be reached to confirm song {item.song_id} ({attempts} tries)",
                {"generator": item.generator, "song_id": item.song_id, "error": lookup.detail},
            )
            kept = tuple(e for e in track.evidence if e.source != "confirmation")
            await self._tracks.set_verdict(track.id, track.verdict, track.verdict_reason, evidence=(*kept, evidence))
            await self._store.finish(item.track_id, ConfirmationState.GAVE_UP, now, evidence)
            return ConfirmationOutcome(
                track.id, ConfirmationState.GAVE_UP, track.verdict, track.verdict, track.verdict_reason, evidence
            )
        due = now + timedelta(seconds=backoff_s(attempts, self._policy))
        await self._store.retry_later(item.track_id, attempts, due, lookup.detail or "unreachable")
        log.info(
            "confirmation of %s: %s unreachable (%s); retry %d at %s",
            track.id,
            item.generator,
            lookup.detail,
            attempts,
            due.isoformat(),
        )
        return ConfirmationOutcome(
            track.id,
            ConfirmationState.PENDING,
            track.verdict,
            track.verdict,
            f"{item.generator} unreachable; retry at {due:%Y-%m-%d %H:%M} UTC",
        )

    async def _judge(self, item: PendingConfirmation, lookup: PageLookup) -> tuple[ConfirmationState, Evidence]:
        generator, song = item.generator, item.song_id
        page = lookup.page
        data: dict[str, object] = {"generator": generator, "song_id": song, "status": lookup.status.value}
        if lookup.status is LookupStatus.NOT_PUBLIC:
            return ConfirmationState.NOT_PUBLIC, Evidence(
                "confirmation",
                f"generator-not-public:{generator}",
                Strength.INFO,
                f"{generator} does not show song {song} publicly (private, removed or never public)",
                data,
            )
        if lookup.status is LookupStatus.NO_SONG or page is None:
            return ConfirmationState.MISSING, Evidence(
                "confirmation",
                f"{CONFLICT}{generator}",
                Strength.AGAINST,
                f"{generator} has no song {song}: the file's song id does not lead to this track",
                data,
            )
        score = await self._similarity(item, page)
        data |= _page_data(page) | {"similarity": round(score, 4)}
        same_audio = score >= self._policy.match_threshold
        if not same_audio:
            return ConfirmationState.MISMATCH, Evidence(
                "confirmation",
                f"{CONFLICT}{generator}",
                Strength.AGAINST,
                f"{generator}'s page for song {song} serves different audio ({score:.0%} similar)",
                data,
            )
        tolerance = self._policy.duration_tolerance_s + 0.03 * item.duration_s
        if page.duration_s is not None and abs(page.duration_s - item.duration_s) > tolerance:
            return ConfirmationState.MISMATCH, Evidence(
                "confirmation",
                f"{CONFLICT}{generator}",
                Strength.AGAINST,
                f"{generator}'s song {song} lasts {page.duration_s:.0f} s, the file {item.duration_s:.0f} s",
                data,
            )
        if not titles_agree(item.file_title, page.title):
            return ConfirmationState.TITLE_DIFFERS, Evidence(
                "confirmation",
                f"generator-title-differs:{generator}",
                Strength.MODERATE,
                f"{generator} serves the same audio for song {song} but calls it {page.title!r}",
                data,
            )
        exact = page.audio_cid is not None and page.audio_cid == item.cid
        how = "the very same file" if exact else f"the same audio ({score:.0%} similar)"
        return ConfirmationState.CONFIRMED, Evidence(
            "confirmation",
            f"{CONFIRMED}{generator}",
            Strength.STRONG,
            f"{generator} itself serves {how} for song {song}",
            data,
        )

    async def _similarity(self, item: PendingConfirmation, page: GeneratorPage) -> float:
        if page.audio_cid is not None and page.audio_cid == item.cid:
            return 1.0
        if item.fingerprint is None or page.fingerprint is None:
            return 0.0
        # ±10 s of alignment over a few thousand items is pure-Python work: off the loop.
        return await asyncio.to_thread(similarity, item.fingerprint.values, page.fingerprint.values)


def _page_data(page: GeneratorPage) -> dict[str, object]:
    facts = {
        "page_url": page.page_url,
        "title": page.title,
        "creator": page.creator,
        "duration_s": page.duration_s,
        "audio_url": page.audio_url,
        "audio_cid": page.audio_cid,
    }
    return {k: v for k, v in {**page.facts, **facts}.items() if v is not None}

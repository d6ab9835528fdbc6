"""Sharing a track: the one flow behind the ``share`` command, chat uploads and the CLI.

Rate limit → ingest (file or link) → genre → prompt library → a typed ``ShareOutcome``;
the track's event is in the outbox (ingest records it with the track), from which every
surface (both bots' genre channels, the federation) hears of it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.model import Declaration, Sharer, Track, Verdict
from core.services.ingest import IngestResult, IngestService
from core.visibility import Viewer, can_see, is_public

if TYPE_CHECKING:
    from core.services.genres import GenreService
    from core.services.prompts import PromptService
    from core.services.share_rate_limit import ShareRateLimiter

log = logging.getLogger(__name__)


class ShareStatus(enum.Enum):
    """What a share ended in."""

    ADDED = "added"  # new, verified or declared: public
    HELD = "held"  # new, waiting for a moderator's review
    REFUSED = "refused"  # new, rejected
    KNOWN = "known"  # the same bytes were shared before (the track is the earlier one)
    KNOWN_HIDDEN = "known_hidden"  # ... and that track is not the sharer's to see


@dataclass(frozen=True)
class ShareOutcome:
    """A share's result: the track, what happened, and the ingest's words for why."""

    track: Track
    status: ShareStatus
    detail: str


class ShareService:
    """Everything that happens when a member shares a track."""

    def __init__(
        self,
        ingest: IngestService,
        genres: GenreService | None = None,
        prompts: PromptService | None = None,
        limiter: ShareRateLimiter | None = None,
    ) -> None:
        self._ingest = ingest
        self._genres = genres
        self._prompts = prompts
        self._limiter = limiter

    async def share_file(
        self,
        path: Path,
        sharer: Sharer,
        declaration: Declaration | None = None,
        place: str = "cli",
        filename: str | None = None,
        source_url: str | None = None,
    ) -> ShareOutcome:
        """Share an uploaded or local file."""
        declaration = declaration or Declaration()
        await self._admit(sharer, declaration)
        result = await self._ingest.ingest_file(
            path, sharer, declaration, place, filename=filename, source_url=source_url
        )
        return await self._after(result, sharer)

    async def share_url(
        self, url: str, sharer: Sharer, declaration: Declaration | None = None, place: str = "cli"
    ) -> ShareOutcome:
        """Share a link (generator page, media page, audio URL)."""
        declaration = declaration or Declaration()
        await self._admit(sharer, declaration)
        result = await self._ingest.ingest_url(url, sharer, declaration, place)
        return await self._after(result, sharer)

    async def _admit(self, sharer: Sharer, declaration: Declaration) -> None:
        """Refuse before any work: an unknown genre, or a member over the share limit."""
        if declaration.genre and self._genres is not None:
            self._genres.get(declaration.genre)  # UsageError listing the genres
        if self._limiter is not None:
            await self._limiter.check(sharer)

    async def _after(self, result: IngestResult, sharer: Sharer) -> ShareOutcome:
        track = result.track
        if not result.is_new:
            status = ShareStatus.KNOWN if can_see(track, Viewer.of(sharer)) else ShareStatus.KNOWN_HIDDEN
            return ShareOutcome(track, status, result.message)
        if self._prompts is not None and is_public(track):
            try:
                await self._prompts.autofill_from_track(track)
            except Exception:  # the library is a convenience; the share itself stands
                log.exception("prompt library autofill failed for %s", track.id)
        if is_public(track):
            return ShareOutcome(track, ShareStatus.ADDED, track.verdict_reason)
        if track.verdict is Verdict.REJECTED:
            return ShareOutcome(track, ShareStatus.REFUSED, track.verdict_reason)
        return ShareOutcome(track, ShareStatus.HELD, track.verdict_reason)

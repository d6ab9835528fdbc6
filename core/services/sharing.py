"""Sharing a track: the one flow behind the ``share`` command, chat uploads and the CLI.

Rate limit → ingest (file or link) → genre → prompt library → a reply with the card and a
the track's event in the outbox (ingest records it with the track), from which every
surface (both bots' genre channels, the federation) hears of it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from core.model import Declaration, Sharer, Track, Verdict
from core.replies import Button, ButtonAction, Reply
from core.services.ingest import IngestResult, IngestService
from core.visibility import Viewer, can_see, is_public

if TYPE_CHECKING:
    from core.services.genres import GenreService
    from core.services.prompts import PromptService
    from core.services.share_rate_limit import ShareRateLimiter

log = logging.getLogger(__name__)


def vote_buttons(track: Track) -> tuple[Button, ...]:
    """The buttons under a track card."""
    return (Button("👍", ButtonAction.VOTE, f"track:{track.id}:1"),)


def card_reply(track: Track, text: str = "", private: bool = False) -> Reply:
    """A reply showing one track card with its vote button."""
    return Reply(text=text, cards=(track,), buttons=vote_buttons(track), private=private,
                 data={"track": track.id, "cid": track.cid, "verdict": track.verdict.value})


class ShareService:
    """Everything that happens when a member shares a track."""

    def __init__(self, ingest: IngestService, genres: GenreService | None = None,
                 prompts: PromptService | None = None, limiter: ShareRateLimiter | None = None) -> None:
        self._ingest = ingest
        self._genres = genres
        self._prompts = prompts
        self._limiter = limiter

    async def share_file(self, path: Path, sharer: Sharer, declaration: Declaration | None = None,
                         place: str = "cli", filename: str | None = None, source_url: str | None = None) -> Reply:
        """Share an uploaded or local file."""
        declaration = declaration or Declaration()
        await self._admit(sharer, declaration)
        result = await self._ingest.ingest_file(path, sharer, declaration, place, filename=filename,
                                                source_url=source_url)
        return await self._after(result, sharer)

    async def share_url(self, url: str, sharer: Sharer, declaration: Declaration | None = None,
                        place: str = "cli") -> Reply:
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

    async def _after(self, result: IngestResult, sharer: Sharer) -> Reply:
        track = result.track
        if not result.is_new:
            if not can_see(track, Viewer.of(sharer)):
                return Reply(text="This track is already in the pool, waiting for a moderator's review.")
            return card_reply(track, text=result.message)
        if self._prompts is not None and is_public(track):
            try:
                await self._prompts.autofill_from_track(track)
            except Exception:  # the library is a convenience; the share itself stands
                log.exception("prompt library autofill failed for %s", track.id)
        if track.verdict in (Verdict.VERIFIED, Verdict.DECLARED):
            text = f"Added to the pool: {track.title} ({track.verdict.value})"
        elif track.verdict is Verdict.REJECTED:
            text = f"Not added: {track.verdict_reason}"
        else:
            text = (f"Received {track.title}; it waits for a moderator's review "
                    f"({track.verdict_reason})")
        return card_reply(track, text=text)

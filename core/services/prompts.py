"""The prompt library: prompts, style texts and lyrics, with the tracks made from them.

Filled by hand (``prompt save``) and automatically from every accepted track (its declared
prompt, its style and lyrics from tags or the page). Identical texts are one entry: the
id is a hash of the kind and the normalised text (case-folded, whitespace collapsed), so
saving again only links the new track. Search is ranked by relevance; "top" ranks by the
votes of the tracks made with a prompt.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.errors import NotFoundError, UsageError
from core.model import Sharer, Track, TrackId
from core.ports import Clock

KINDS = ("prompt", "style", "lyrics")
MAX_TEXT = 4000
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Prompt:
    """One library entry."""

    id: str
    text: str
    kind: str  # prompt | style | lyrics
    generator: str | None
    settings: Mapping[str, Any]  # model version, duration, seed ... where known
    author: Sharer | None
    created_at: datetime
    track_ids: tuple[TrackId, ...] = ()
    votes: int = 0


class PromptRepository(Protocol):
    """Storage of the library (durable when a call returns)."""

    async def save_or_link(self, prompt: Prompt, track_id: TrackId | None) -> tuple[Prompt, bool]:
        """Store ``prompt`` unless its id exists; link ``track_id`` either way. (stored, created)."""
        ...

    async def get(self, prompt_id: str) -> Prompt | None: ...
    async def resolve(self, ref: str) -> Prompt | None:
        """By id or an unambiguous prefix of at least 4 characters."""
        ...
    async def search(self, text: str, limit: int) -> Sequence[Prompt]: ...
    async def more_like(self, prompt_id: str, limit: int) -> Sequence[Prompt]: ...
    async def top(self, limit: int, since: datetime | None) -> Sequence[Prompt]: ...
    async def count(self) -> int: ...


def normalise(text: str) -> str:
    """What makes two texts the same entry."""
    return _SPACE.sub(" ", text).strip().casefold()


def prompt_id(kind: str, text: str) -> str:
    """Stable id of a kind and text."""
    return hashlib.sha256(f"{kind}\x00{normalise(text)}".encode()).hexdigest()[:16]


class PromptService:
    """Saving, finding and ranking prompts."""

    def __init__(self, repo: PromptRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock

    async def save(self, text: str, kind: str = "prompt", author: Sharer | None = None,
                   generator: str | None = None, settings: Mapping[str, Any] | None = None,
                   track_id: TrackId | None = None) -> tuple[Prompt, bool]:
        """Add a text (or link a track to the existing entry); (entry, created)."""
        clean = _SPACE.sub(" ", text or "").strip()
        if not clean:
            raise UsageError("the prompt is empty")
        if len(clean) > MAX_TEXT:
            raise UsageError(f"the prompt is too long ({len(clean)} characters; at most {MAX_TEXT})")
        if kind not in KINDS:
            raise UsageError(f"kind must be one of: {', '.join(KINDS)}")
        prompt = Prompt(prompt_id(kind, clean), clean, kind, (generator or "").strip().lower() or None,
                        dict(settings or {}), author, self._clock.now())
        return await self._repo.save_or_link(prompt, track_id)

    async def autofill_from_track(self, track: Track) -> list[Prompt]:
        """Enter a track's prompt, style and lyrics (each linked to the track)."""
        settings: dict[str, Any] = {}
        model = next((e.data.get("model") for e in track.evidence if e.data.get("model")), None)
        if model:
            settings["model"] = model
        settings["duration_s"] = round(track.duration_s)
        saved = []
        for kind, text in (("prompt", track.prompt), ("style", track.style), ("lyrics", track.lyrics)):
            if text and text.strip():
                prompt, _ = await self.save(text[:MAX_TEXT], kind, track.sharer, track.generator, settings, track.id)
                saved.append(prompt)
        return saved

    async def show(self, ref: str) -> Prompt:
        """One entry by id or prefix."""
        found = await self._repo.resolve(ref.strip())
        if found is None:
            raise NotFoundError(f"no prompt '{ref}' in the library")
        return found

    async def search(self, text: str, limit: int = 10) -> Sequence[Prompt]:
        """Entries ranked by relevance to ``text``."""
        if not text.strip():
            raise UsageError("give some words to search for")
        return await self._repo.search(text, max(1, min(limit, 50)))

    async def more_like(self, ref: str, limit: int = 5) -> Sequence[Prompt]:
        """Entries that share the most distinctive words of one entry."""
        prompt = await self.show(ref)
        return await self._repo.more_like(prompt.id, limit)

    async def top(self, limit: int = 10, since: datetime | None = None) -> Sequence[Prompt]:
        """Entries whose tracks got the most votes (since a time)."""
        return await self._repo.top(limit, since)

"""The prompt library: prompts, style texts and lyrics, with the tracks made from them.

Filled by hand (``prompt save``) and automatically from every accepted track (its declared
prompt, its style and lyrics from tags or the page). Identical texts are one entry: the
id is a hash of the kind and the normalised text (case-folded, whitespace collapsed), so
saving again only links the new track and returns the existing entry. Search is ranked by
relevance; "top" ranks by the votes members cast on the tracks made with a prompt.

Public API (what the commands use)::

    service = PromptService(repo, clock)
    await service.save(text, kind="prompt", author=None, generator=None, settings=None,
                       track_id=None) -> (Prompt, created)
    await service.autofill_from_track(track) -> list[Prompt]
    await service.search(text, limit=10) -> Sequence[Prompt]
    await service.more_like(ref, limit=5) -> Sequence[Prompt]
    await service.top(limit=10, since=None) -> Sequence[Prompt]
    await service.show(ref) -> Prompt               # NotFoundError when unknown
    await service.count() -> int

Errors: ``UsageError`` (empty, too long, unknown kind, nothing to search for),
``NotFoundError`` (unknown or ambiguous reference).
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from core.errors import NotFoundError, UsageError
from core.model import Sharer, Track, TrackId
from core.ports import Clock

PromptKind = Literal["prompt", "style", "lyrics"]
KINDS: tuple[str, ...] = ("prompt", "style", "lyrics")
MAX_TEXT = 4000  # characters, after trimming
MAX_LIMIT = 50
MIN_PREFIX = 4  # shortest id prefix ``show`` accepts
_SPACE = re.compile(r"\s+")
_HSPACE = re.compile(r"[^\S\n]+")
_BLANKS = re.compile(r"\n{3,}")
_SETTING_KEYS = ("model", "model_version", "version", "seed", "duration_s", "bpm", "key", "instrumental")


@dataclass(frozen=True)
class Prompt:
    """One library entry.

    ``votes`` is the sum of the votes cast on ``track_ids`` (for ``top``: those cast since
    its ``since``); ``settings`` holds what is known of the generation (model version,
    duration, seed ...).
    """

    id: str
    text: str
    kind: str  # PromptKind: prompt | style | lyrics
    generator: str | None
    settings: Mapping[str, Any]
    author: Sharer | None
    created_at: datetime
    track_ids: tuple[TrackId, ...] = ()
    votes: int = 0


class PromptRepository(Protocol):
    """Storage of the library; durable when a call returns."""

    async def save_or_link(self, prompt: Prompt, track_id: TrackId | None) -> tuple[Prompt, bool]:
        """Store ``prompt`` unless its id exists; link ``track_id`` either way. (stored, created)."""
        ...

    async def get(self, prompt_id: str) -> Prompt | None:
        """One entry by full id, with its tracks and all-time votes."""
        ...

    async def resolve(self, ref: str) -> Prompt | None:
        """By id or an unambiguous prefix of at least 4 characters; None otherwise."""
        ...

    async def search(self, text: str, limit: int) -> Sequence[Prompt]:
        """Entries matching every word of ``text`` (each as a word prefix), most relevant first.

        Any text is accepted: FTS operators and quotes in it are plain words.
        """
        ...

    async def more_like(self, prompt_id: str, limit: int) -> Sequence[Prompt]:
        """Entries sharing the most distinctive words of one entry (never itself)."""
        ...

    async def top(self, limit: int, since: datetime | None) -> Sequence[Prompt]:
        """Entries by the votes on their tracks cast since ``since`` (all time if None)."""
        ...

    async def count(self) -> int:
        """Entries in the library."""
        ...


def normalise(text: str) -> str:
    """What makes two texts the same entry: case-folded, whitespace collapsed."""
    return _SPACE.sub(" ", text).strip().casefold()


def tidy(text: str) -> str:
    """The stored form: runs of spaces collapsed, lines kept (lyrics), at most one blank line."""
    lines = [_HSPACE.sub(" ", line).strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def prompt_id(kind: str, text: str) -> str:
    """Stable id of a kind and text (16 hex digits)."""
    return hashlib.sha256(f"{kind}\x00{normalise(text)}".encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=8192)
def _fold(char: str) -> str:
    """One lower-cased character as FTS5 ``unicode61 remove_diacritics 2`` indexes it: a
    letter, digit or private-use character is kept (Latin letters lose their diacritics);
    anything else, combining marks of other scripts included, separates words ("")."""
    category = unicodedata.category(char)
    if category[0] in "LN" or category == "Co":
        if char.isascii() or not unicodedata.name(char, "").startswith("LATIN"):
            return char
        return "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)) or char
    return ""


def words(text: str) -> list[str]:
    """The words of a text as the search index sees them (SQLite FTS5 ``unicode61
    remove_diacritics 2``): runs of letters and digits, lower-cased, accents removed from
    Latin letters (``Café`` → ``cafe``), other scripts kept as they are."""
    out: list[str] = []
    current: list[str] = []
    previous_latin = False
    for char in text.lower():
        if previous_latin and "\u0300" <= char <= "\u036f":
            continue  # a combining accent on a Latin letter is dropped, not a separator
        folded = _fold(char)
        if folded:
            current.append(folded)
            previous_latin = folded.isascii() and folded.isalpha() or folded != char
        else:
            previous_latin = False
            if current:
                out.append("".join(current))
                current = []
    if current:
        out.append("".join(current))
    return out


def settings_of(track: Track) -> dict[str, Any]:
    """What a track tells about how it was generated (from its evidence data and record)."""
    settings: dict[str, Any] = {}
    for evidence in track.evidence:
        for key in _SETTING_KEYS:
            value = evidence.data.get(key)
            if value not in (None, "") and key not in settings and isinstance(value, str | int | float | bool):
                settings["model" if key == "model_version" else key] = value
    settings.setdefault("duration_s", round(track.duration_s))
    if track.generator_song_id:
        settings["song_id"] = track.generator_song_id
    return settings


class PromptService:
    """Saving, finding and ranking prompts, style texts and lyrics."""

    def __init__(self, repo: PromptRepository, clock: Clock) -> None:
        self._repo = repo
        self._clock = clock

    async def save(
        self,
        text: str,
        kind: str = "prompt",
        author: Sharer | None = None,
        generator: str | None = None,
        settings: Mapping[str, Any] | None = None,
        track_id: TrackId | None = None,
    ) -> tuple[Prompt, bool]:
        """Add a text, or link ``track_id`` to the identical entry; returns (entry, created).

        UsageError when the text is empty or longer than 4000 characters, or the kind unknown.
        """
        clean = tidy(text or "")
        if not clean:
            raise UsageError("the prompt is empty: give the text to save")
        if len(clean) > MAX_TEXT:
            raise UsageError(f"the prompt is too long ({len(clean)} characters; at most {MAX_TEXT})")
        kind = (kind or "prompt").strip().lower()
        if kind not in KINDS:
            raise UsageError(f"unknown kind '{kind}': use one of {', '.join(KINDS)}")
        prompt = Prompt(
            prompt_id(kind, clean),
            clean,
            kind,
            (generator or "").strip().lower() or None,
            dict(settings or {}),
            author,
            self._clock.now(),
        )
        return await self._repo.save_or_link(prompt, track_id)

    async def autofill_from_track(self, track: Track) -> list[Prompt]:
        """Enter a track's prompt, style and lyrics, each linked to the track (kinds
        ``prompt``, ``style``, ``lyrics``); texts over the limit are cut to 4000 characters."""
        settings = settings_of(track)
        saved = []
        for kind, text in (("prompt", track.prompt), ("style", track.style), ("lyrics", track.lyrics)):
            clean = tidy(text or "")
            if clean:
                prompt, _ = await self.save(clean[:MAX_TEXT], kind, track.sharer, track.generator, settings, track.id)
                saved.append(prompt)
        return saved

    async def show(self, ref: str) -> Prompt:
        """One entry by id or unambiguous id prefix (4+ characters); NotFoundError otherwise."""
        ref = (ref or "").strip().lower()
        found = await self._repo.resolve(ref) if ref else None
        if found is None:
            hint = f" (give at least {MIN_PREFIX} characters of its id)" if len(ref) < MIN_PREFIX else ""
            raise NotFoundError(f"no prompt '{ref}' in the library{hint}")
        return found

    async def search(self, text: str, limit: int = 10) -> Sequence[Prompt]:
        """Entries ranked by relevance to ``text`` (at most 50)."""
        if not words(text or ""):
            raise UsageError("give some words to search for")
        return await self._repo.search(text, max(1, min(limit, MAX_LIMIT)))

    async def more_like(self, ref: str, limit: int = 5) -> Sequence[Prompt]:
        """Entries that share the most distinctive words of one entry (not the entry itself)."""
        prompt = await self.show(ref)
        return await self._repo.more_like(prompt.id, max(1, min(limit, MAX_LIMIT)))

    async def top(self, limit: int = 10, since: datetime | None = None) -> Sequence[Prompt]:
        """Entries whose tracks got the most votes (cast since ``since``), most first."""
        return await self._repo.top(max(1, min(limit, MAX_LIMIT)), since)

    async def count(self) -> int:
        """Entries in the library."""
        return await self._repo.count()

"""Genre channels: which genre a track belongs to, and where each genre is posted.

A track's genre comes from, in order: the sharer's choice, the prompt/style text, the
tags. A genre maps to a place per platform (a Discord channel id, a Matrix room id) from
config, or from ``genre set`` at runtime (persisted, and winning over config). Posts to a
genre without a place go to the default place of that platform.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.errors import NotFoundError, UsageError
from core.ports import GenrePlaces

ANNOUNCEMENT_KINDS = ("round", "digest", "default", "moderators")
_WORDS = re.compile(r"[\w'-]+", re.UNICODE)


@dataclass(frozen=True)
class GenreDef:
    """A genre of the taxonomy."""

    name: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    places: Mapping[str, str] = field(default_factory=dict)  # platform -> channel/room id


WATCH = "@watch:"  # stored places: "@watch:<place>" per platform, on or off (a configured one removed)
WATCH_ON, WATCH_OFF = "on", "off"


def _norm(text: str) -> str:
    return " ".join(_WORDS.findall(text.casefold()))


class GenreService:
    """Classifies tracks and resolves where posts go."""

    def __init__(
        self,
        taxonomy: Sequence[GenreDef],
        places: GenrePlaces,
        default_places: Mapping[str, str] | None = None,
        other_places: Mapping[str, Mapping[str, str]] | None = None,
        watched: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._watched = {k: list(v) for k, v in (watched or {}).items()}  # from the config, per platform
        self._genres = {g.name: g for g in taxonomy}
        self._places = places
        self._default = dict(default_places or {})
        self._other = {k: dict(v) for k, v in (other_places or {}).items()}  # "round"/"digest"
        self._names: dict[str, str] = {}
        for genre in taxonomy:
            self._names[_norm(genre.name)] = genre.name
            for alias in genre.aliases:
                self._names[_norm(alias)] = genre.name

    def names(self) -> list[str]:
        """Every genre name, sorted."""
        return sorted(self._genres)

    def get(self, name: str) -> GenreDef:
        """A genre by name or alias; UsageError listing the genres when unknown."""
        found = self.lookup(name)
        if found is None:
            raise UsageError(f"unknown genre '{name}'; genres: {', '.join(self.names())}")
        return self._genres[found]

    def lookup(self, text: str | None) -> str | None:
        """The genre a name or alias means, or None."""
        if not text:
            return None
        return self._names.get(_norm(text))

    def classify(
        self,
        chosen: str | None = None,
        prompt: str | None = None,
        style: str | None = None,
        tags: Sequence[str] = (),
        tag_genre: str | None = None,
    ) -> str | None:
        """The sharer's choice, else the prompt/style text, else the tags; None if nothing fits."""
        if chosen:
            return self.get(chosen).name
        for text in (style, prompt):
            found = self._from_text(text)
            if found:
                return found
        for text in (tag_genre, *tags):
            found = self.lookup(text) or self._from_text(text)
            if found:
                return found
        return None

    def _from_text(self, text: str | None) -> str | None:
        """Names and aliases count 3, keywords 1; the best score wins (ties: taxonomy order)."""
        if not text:
            return None
        padded = f" {_norm(text)} "
        best: tuple[int, str] | None = None
        for genre in self._genres.values():
            score = 0
            for name in (genre.name, *genre.aliases):
                if f" {_norm(name)} " in padded:
                    score += 3
            for keyword in genre.keywords:
                if f" {_norm(keyword)} " in padded:
                    score += 1
            if score and (best is None or score > best[0]):
                best = (score, genre.name)
        return best[1] if best else None

    async def set_place(self, genre: str, platform: str, place: str | None) -> GenreDef:
        """``genre set``: persist where a genre is posted on a platform."""
        found = self.get(genre)
        await self._places.put(found.name, platform, place)
        return found

    async def set_announcement_place(self, kind: str, platform: str, place: str | None) -> None:
        """Where round announcements, digests or unsorted tracks (``default``) go, set at runtime."""
        if kind not in ANNOUNCEMENT_KINDS:
            raise UsageError(f"choose one of: {', '.join(ANNOUNCEMENT_KINDS)}")
        await self._places.put(f"@{kind}", platform, place)

    async def watched(self, platform: str) -> list[str]:
        """The places whose audio is shared, on a platform: the config's, then those moderators added."""
        out = list(self._watched.get(platform, ()))
        for (name, on), value in (await self._places.get_all()).items():
            if on != platform or not name.startswith(WATCH):
                continue
            place = name[len(WATCH) :]
            if value == WATCH_OFF:
                out = [p for p in out if p != place]
            elif place not in out:
                out.append(place)
        return out

    async def set_watched(self, platform: str, place: str, on: bool) -> bool:
        """``watch add/remove``: start or stop sharing a place's audio; False when it already was so."""
        if (place in await self.watched(platform)) == on:
            return False
        configured = place in self._watched.get(platform, ())
        value = WATCH_ON if on else WATCH_OFF
        await self._places.put(f"{WATCH}{place}", platform, None if on == configured else value)
        return True

    async def places_of(self, genre: str) -> dict[str, str]:
        """Where a genre is posted, per platform (runtime settings win over config)."""
        found = self.get(genre)
        out = dict(found.places)
        for (name, platform), place in (await self._places.get_all()).items():
            if name == found.name:
                out[platform] = place
        return out

    async def destination(self, target: str, platform: str, started_in: str | None = None) -> str | None:
        """Where a ``Post`` goes on a platform: ``genre:<name>``, ``round:<id>``, ``digest``, ``default``.

        A round's posts go to the configured round place, else where it was started
        (``started_in``, on that platform), else the default place; the digest goes to its
        configured place, else the default one, else the first watched one."""
        kind, _, value = target.partition(":")
        runtime = await self._places.get_all()
        default = runtime.get(("@default", platform)) or self._default.get(platform)
        if kind == "genre" and value:
            try:
                place = (await self.places_of(value)).get(platform)
            except UsageError:
                place = None
            return place or default
        if kind in ("round", "digest") or kind in self._other:
            configured = runtime.get((f"@{kind}", platform)) or self._other.get(kind, {}).get(platform) or started_in
            if configured is None and default is None and kind == "digest":  # the first watched place
                configured = next(iter(await self.watched(platform)), None)
            return configured or default
        if kind == "default":
            return default
        if kind == "moderators":  # moderators' notices: only where a place is set, never the default one
            return runtime.get(("@moderators", platform)) or self._other.get(kind, {}).get(platform)
        raise NotFoundError(f"no such destination: {target}")

"""Known AI generators' signatures in embedded tags and page URLs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.ports import TagInfo

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass(frozen=True)
class Signature:
    """A generator recognised in a file's tags."""

    generator: str
    song_id: str | None
    where: str  # which tag said so
    text: str  # the matching text, capped


_COMMENT_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("suno", re.compile(r"made with suno(?:.*?\bid=(?P<id>" + _UUID + r"))?", re.I | re.S)),
    ("udio", re.compile(r"(?:made with|created (?:with|using)) udio", re.I)),
    ("lyria", re.compile(r"\blyria\b", re.I)),
    ("stable-audio", re.compile(r"stable ?audio", re.I)),
    ("riffusion", re.compile(r"\briffusion\b", re.I)),
    ("mureka", re.compile(r"\bmureka\b", re.I)),
    ("sonauto", re.compile(r"\bsonauto\b", re.I)),
)

_URL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("suno", re.compile(r"https?://(?:www\.|app\.)?suno\.(?:com|ai)/song/(?P<id>" + _UUID + ")", re.I)),
    ("udio", re.compile(r"https?://(?:www\.)?udio\.com/songs/(?P<id>[A-Za-z0-9]+)", re.I)),
    ("riffusion", re.compile(r"https?://(?:www\.)?riffusion\.com/song/(?P<id>[A-Za-z0-9-]+)", re.I)),
)


def generator_from_url(url: str) -> tuple[str, str] | None:
    """(generator, song id) for a known generator song URL."""
    for generator, pattern in _URL_PATTERNS:
        match = pattern.search(url)
        if match:
            return generator, match.group("id").lower() if generator == "suno" else match.group("id")
    return None


def find_signatures(tags: TagInfo) -> list[Signature]:
    """Every generator signature found in the tags, the strongest (with an id) first."""
    found: list[Signature] = []
    if tags.url:
        hit = generator_from_url(tags.url)
        if hit:
            found.append(Signature(hit[0], hit[1], "url", tags.url[:200]))
    for where, text in (("comment", tags.comment), ("encoder", tags.encoder), ("artist", None)):
        if not text:
            continue
        for generator, pattern in _COMMENT_PATTERNS:
            match = pattern.search(text)
            if match:
                song_id = match.groupdict().get("id")
                found.append(Signature(generator, song_id.lower() if song_id else None, where, text[:200]))
    found.sort(key=lambda s: s.song_id is None)
    return found

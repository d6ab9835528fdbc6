"""What the generator page extractors (Suno, Udio) share: reading embedded song JSON,
mapping a missing page to "private or removed", and shaping the result.

Same namespace layout as the extractors (see :mod:`wavepool_suno`). The two markers below
start the extractors' error messages; ``storage.links.ytdlp_fetch`` turns them into the
member-facing errors.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin

from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.networking.exceptions import HTTPError
from yt_dlp.utils import ExtractorError

PAGE_WITHOUT_AUDIO = "page without audio"
PRIVATE_OR_REMOVED = "private or removed song"

_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_NEXT_F = re.compile(r"self\.__next_f\.push\(\[\s*\d+\s*,\s*(\"(?:[^\"\\]|\\.)*\")\s*\]\)", re.DOTALL)
_MAX_BACKTRACK = 40


def text_or_none(value: Any) -> str | None:
    """A non-blank string, stripped; None for anything else."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def clip_candidates(text: str, key: str = "audio_url") -> list[dict[str, Any]]:
    """Every JSON object in ``text`` that has a ``key`` key, outermost-nearest first."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    for match in re.finditer('"' + re.escape(key) + r'"\s*:', text):
        start = match.start()
        tries = 0
        pos = text.rfind("{", 0, start)
        while pos >= 0 and tries < _MAX_BACKTRACK:
            tries += 1
            try:
                value, end = decoder.raw_decode(text, pos)
            except ValueError:
                pos = text.rfind("{", 0, pos)
                continue
            if isinstance(value, dict) and end > start and key in value:
                found.append(value)
                break
            pos = text.rfind("{", 0, pos)
    return found


def texts_to_search(webpage: str) -> list[str]:
    """Script bodies, with Next.js flight chunks decoded from their JS string form."""
    texts: list[str] = []
    flight: list[str] = []
    for raw in _NEXT_F.findall(webpage):
        try:
            flight.append(json.loads(raw))
        except ValueError:
            continue
    if flight:
        texts.append("".join(flight))
    texts.extend(_SCRIPT.findall(webpage))
    return texts


def embedded_objects(webpage: str, key: str) -> list[dict[str, Any]]:
    """Every embedded JSON object of the page that carries ``key``."""
    found: list[dict[str, Any]] = []
    for text in texts_to_search(webpage):
        if key in text:
            found.extend(clip_candidates(text, key=key))
    return found


class GeneratorPageIE(InfoExtractor):  # type: ignore[misc]
    """Base of the generator page extractors: download, audio URL, result shape."""

    SITE = ""  # the generator's name in messages ("Suno")

    def _page(self, url: str, display_id: str) -> tuple[str, str]:
        """The page's HTML and final URL; a missing or hidden page is "private or removed"."""
        try:
            webpage, handle = self._download_webpage_handle(url, display_id, note=f"Downloading {self.SITE} page")
        except ExtractorError as exc:
            cause = exc.cause
            if isinstance(cause, HTTPError) and cause.status in (401, 403, 404, 410):
                raise ExtractorError(
                    f"{PRIVATE_OR_REMOVED}: {self.SITE} does not show this song publicly", expected=True
                ) from exc
            raise
        return webpage, handle.url

    def _audio_url(self, facts: dict[str, Any], webpage: str, final_url: str) -> str:
        """The song's audio: from the embedded JSON, else og:audio; absolute."""
        og_audio = self._og_search_property(
            ("audio", "audio:url", "audio:secure_url"), webpage, default=None, fatal=False
        )
        audio_url = facts.get("audio_url") or og_audio
        if not audio_url:
            raise ExtractorError(f"{PAGE_WITHOUT_AUDIO}: this {self.SITE} page has no playable song", expected=True)
        return urljoin(final_url, str(audio_url))

    def _gone(self) -> ExtractorError:
        return ExtractorError(f"{PRIVATE_OR_REMOVED}: {self.SITE} does not show this song publicly", expected=True)


def result(page: dict[str, Any], **info: Any) -> dict[str, Any]:
    """yt-dlp's info dict for an audio-only MP3 page, with Wavepool's page facts attached."""
    return {
        "id": page["song_id"],
        "title": page["title"],
        "url": page["audio_url"],
        "ext": "mp3",
        "vcodec": "none",
        "acodec": "mp3",
        "track": page["title"],
        "webpage_url": page["canonical_url"],
        **info,
        "wavepool_page": page,
    }

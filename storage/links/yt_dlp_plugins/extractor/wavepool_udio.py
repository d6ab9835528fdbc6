"""A yt-dlp plugin extractor for Udio song pages (yt-dlp has none of its own).

Same layout and use as :mod:`wavepool_suno`: registered explicitly by
``storage.links.ytdlp_fetch``. Matched: ``https://www.udio.com/songs/<id>``. Udio's pages
carry the song as JSON with a ``song_path`` (the audio) beside og:title / og:audio; either
is enough. Udio stopped offering downloads in late 2025, so files that name a Udio song
are older; their pages still play. A 404 means private or removed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from yt_dlp.extractor.common import InfoExtractor
from yt_dlp.networking.exceptions import HTTPError
from yt_dlp.utils import ExtractorError

from storage.links.yt_dlp_plugins.extractor.wavepool_suno import (
    PAGE_WITHOUT_AUDIO,
    PRIVATE_OR_REMOVED,
    clip_candidates,
    texts_to_search,
)

SONG_URL = "https://www.udio.com/songs/{}"


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def find_song(webpage: str, song_id: str) -> dict[str, Any] | None:
    """The embedded song JSON for ``song_id`` (or the first one), None when there is none."""
    songs: list[dict[str, Any]] = []
    for text in texts_to_search(webpage):
        if "song_path" in text:
            songs.extend(clip_candidates(text, key="song_path"))
    for song in songs:
        if str(song.get("id", "")) == song_id:
            return song
    return songs[0] if songs else None


def song_facts(song: dict[str, Any]) -> dict[str, Any]:
    """Normalise Udio's song JSON into the facts Wavepool keeps."""
    raw_tags = song.get("tags")
    tags = [str(t).strip() for t in raw_tags if str(t).strip()] if isinstance(raw_tags, list) else []
    duration = song.get("duration")
    return {
        "title": _text(song.get("title")),
        "audio_url": _text(song.get("song_path")),
        "image_url": _text(song.get("image_path")),
        "creator": _text(song.get("artist")),
        "style": ", ".join(tags) or None,
        "tags": tags,
        "prompt": _text(song.get("prompt")),
        "lyrics": _text(song.get("lyrics")),
        "duration": float(duration) if isinstance(duration, (int, float)) else None,
        "song_id": _text(song.get("id")),
    }


class WavepoolUdioIE(InfoExtractor):  # type: ignore[misc]
    """Udio song pages."""

    IE_NAME = "wavepool:udio"
    IE_DESC = "Udio song pages (Wavepool plugin)"
    # An optional port is accepted so that fixture servers on 127.0.0.1 can stand in for udio.com.
    _VALID_URL = r"https?://(?:www\.)?udio\.com(?::\d+)?/songs/(?P<id>[A-Za-z0-9]+)/?(?:[?#].*)?$"

    def _real_extract(self, url: str) -> dict[str, Any]:
        song_id = self._match_valid_url(url).group("id")
        try:
            webpage, handle = self._download_webpage_handle(url, song_id, note="Downloading Udio page")
        except ExtractorError as exc:
            cause = exc.cause
            if isinstance(cause, HTTPError) and cause.status in (401, 403, 404, 410):
                raise ExtractorError(PRIVATE_OR_REMOVED, expected=True) from exc
            raise
        song = find_song(webpage, song_id)
        facts = song_facts(song) if song else {}
        og_audio = self._og_search_property(
            ("audio", "audio:url", "audio:secure_url"), webpage, default=None, fatal=False
        )
        audio_url = facts.get("audio_url") or og_audio
        if not audio_url:
            raise ExtractorError(PAGE_WITHOUT_AUDIO, expected=True)
        audio_url = urljoin(handle.url, audio_url)
        title = facts.get("title") or self._og_search_title(webpage, default=None) or song_id
        canonical = SONG_URL.format(song_id)
        page = {
            "generator": "udio",
            "song_id": facts.get("song_id") or song_id,
            "title": title,
            "creator": facts.get("creator"),
            "style": facts.get("style"),
            "tags": facts.get("tags") or [],
            "prompt": facts.get("prompt"),
            "lyrics": facts.get("lyrics"),
            "duration": facts.get("duration"),
            "image_url": facts.get("image_url") or self._og_search_thumbnail(webpage, default=None),
            "audio_url": audio_url,
            "canonical_url": canonical,
            "has_clip_json": song is not None,
        }
        return {
            "id": song_id,
            "title": title,
            "url": audio_url,
            "ext": "mp3",
            "vcodec": "none",
            "acodec": "mp3",
            "uploader": facts.get("creator"),
            "track": title,
            "duration": facts.get("duration"),
            "webpage_url": canonical,
            "wavepool_page": page,
        }

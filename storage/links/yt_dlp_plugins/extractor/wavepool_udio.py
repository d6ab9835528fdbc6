"""A yt-dlp plugin extractor for Udio song pages (yt-dlp has none of its own).

Same layout and use as :mod:`wavepool_suno`: registered explicitly by
``storage.links.ytdlp_fetch``. Matched: ``https://www.udio.com/songs/<id>``. Udio's pages
carry the song as JSON with a ``song_path`` (the audio) beside og:title / og:audio; either
is enough. Udio stopped offering downloads in late 2025, so files that name a Udio song
are older; their pages still play. A 404 means private or removed.
"""

from __future__ import annotations

from typing import Any

from storage.links.yt_dlp_plugins.extractor.wavepool_pages import GeneratorPageIE, embedded_objects, result
from storage.links.yt_dlp_plugins.extractor.wavepool_pages import text_or_none as _text

SONG_URL = "https://www.udio.com/songs/{}"


def find_song(webpage: str, song_id: str) -> dict[str, Any] | None:
    """The embedded song JSON for ``song_id`` (or the first one), None when there is none."""
    songs = embedded_objects(webpage, "song_path")
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


class WavepoolUdioIE(GeneratorPageIE):
    """Udio song pages."""

    IE_NAME = "wavepool:udio"
    IE_DESC = "Udio song pages (Wavepool plugin)"
    SITE = "Udio"
    # An optional port is accepted so that fixture servers on 127.0.0.1 can stand in for udio.com.
    _VALID_URL = r"https?://(?:www\.)?udio\.com(?::\d+)?/songs/(?P<id>[A-Za-z0-9]+)/?(?:[?#].*)?$"

    def _real_extract(self, url: str) -> dict[str, Any]:
        song_id = self._match_valid_url(url).group("id")
        webpage, final_url = self._page(url, song_id)
        song = find_song(webpage, song_id)
        facts = song_facts(song) if song else {}
        audio_url = self._audio_url(facts, webpage, final_url)
        title = facts.get("title") or self._og_search_title(webpage, default=None) or song_id
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
            "canonical_url": SONG_URL.format(song_id),
            "has_clip_json": song is not None,
        }
        return result(page, id=song_id, uploader=facts.get("creator"), duration=facts.get("duration"))

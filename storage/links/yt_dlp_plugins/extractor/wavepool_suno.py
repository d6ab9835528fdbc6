"""A yt-dlp plugin extractor for Suno song pages (yt-dlp has none of its own).

It lives in the ``yt_dlp_plugins.extractor`` namespace layout that yt-dlp's plugin loader
expects (no ``__init__.py`` in ``yt_dlp_plugins`` or ``extractor``), shipped inside our
package. Wavepool does not rely on yt-dlp's plugin discovery: ``storage.links.ytdlp_fetch``
imports :class:`WavepoolSunoIE` and registers an instance explicitly with
``YoutubeDL.add_info_extractor`` and extracts with ``ie_key=WavepoolSunoIE.ie_key()``.

Matched: ``https://suno.com/song/<uuid>`` and ``https://suno.com/s/<code>`` (short share
links, whose redirect to the song page is followed). The page's og:title / og:audio /
og:image and the embedded clip JSON (``__NEXT_DATA__``, Next.js flight chunks or any
inline JSON with an ``audio_url``) are read tolerantly: without the JSON, og:audio still
yields the audio. A page with neither raises "page without audio"; a 404 means the song
is private or was removed.
"""

from __future__ import annotations

import re
from typing import Any

from storage.links.yt_dlp_plugins.extractor.wavepool_pages import (
    GeneratorPageIE,
    embedded_objects,
    result,
)
from storage.links.yt_dlp_plugins.extractor.wavepool_pages import text_or_none as _text

SONG_URL = "https://suno.com/song/{}"

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_SONG_PATH = re.compile(r"/song/(" + _UUID + r")")


def find_clip(webpage: str, song_id: str | None) -> dict[str, Any] | None:
    """The embedded clip JSON for ``song_id`` (or the first clip), None when there is none."""
    clips = embedded_objects(webpage, "audio_url")
    if not clips:
        return None
    for clip in clips:
        if song_id and str(clip.get("id", "")).lower() == song_id.lower():
            return clip
    return clips[0]


def _looks_like_lyrics(text: str) -> bool:
    return "\n" in text or bool(re.search(r"\[(verse|chorus|bridge|intro|outro|hook)", text, re.I))


def clip_facts(clip: dict[str, Any]) -> dict[str, Any]:
    """Normalise a clip JSON into the facts Wavepool keeps (None where absent)."""
    raw_metadata = clip.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    style = _text(metadata.get("tags")) or _text(clip.get("tags")) or _text(metadata.get("style"))
    raw_prompt = _text(metadata.get("prompt")) or _text(clip.get("prompt"))
    lyrics = _text(metadata.get("lyrics")) or _text(clip.get("lyrics"))
    description = _text(metadata.get("gpt_description_prompt")) or _text(clip.get("gpt_description_prompt"))
    prompt = description
    if raw_prompt:
        if lyrics is None and _looks_like_lyrics(raw_prompt):
            lyrics = raw_prompt
        elif prompt is None:
            prompt = raw_prompt
    version = _text(clip.get("major_model_version")) or _text(metadata.get("major_model_version"))
    model = _text(clip.get("model_name")) or _text(clip.get("model")) or version
    if model and version and version not in model:
        model = f"{model} ({version})"
    return {
        "title": _text(clip.get("title")),
        "audio_url": _text(clip.get("audio_url")),
        "image_url": _text(clip.get("image_large_url")) or _text(clip.get("image_url")),
        "creator": _text(clip.get("handle")) or _text(clip.get("display_name")),
        "display_name": _text(clip.get("display_name")),
        "style": style,
        "tags": [t.strip() for t in (style or "").split(",") if t.strip()],
        "prompt": prompt,
        "lyrics": lyrics,
        "model": model,
        "song_id": _text(clip.get("id")),
    }


class WavepoolSunoIE(GeneratorPageIE):
    """Suno song pages and short share links."""

    IE_NAME = "wavepool:suno"
    IE_DESC = "Suno song pages (Wavepool plugin)"
    SITE = "Suno"
    # An optional port is accepted so that fixture servers on 127.0.0.1 can stand in for suno.com.
    _VALID_URL = (
        r"https?://(?:www\.)?suno\.com(?::\d+)?/"
        r"(?:song/(?P<id>" + _UUID + r")|s/(?P<code>[A-Za-z0-9_-]+))/?(?:[?#].*)?$"
    )

    def _real_extract(self, url: str) -> dict[str, Any]:
        match = self._match_valid_url(url)
        song_id = match.group("id")
        webpage, final_url = self._page(url, song_id or match.group("code"))
        if song_id is None:
            found = _SONG_PATH.search(final_url) or _SONG_PATH.search(self._og_search_url(webpage, default="") or "")
            if found is None:
                raise self._gone()
            song_id = found.group(1)
        song_id = song_id.lower()

        clip = find_clip(webpage, song_id)
        facts = clip_facts(clip) if clip else {}
        audio_url = self._audio_url(facts, webpage, final_url)
        title = facts.get("title") or self._og_search_title(webpage, default=None) or song_id
        thumbnail = facts.get("image_url") or self._og_search_thumbnail(webpage, default=None)
        page = {
            "generator": "suno",
            "song_id": song_id,
            "title": title,
            "creator": facts.get("creator"),
            "style": facts.get("style"),
            "tags": facts.get("tags") or [],
            "prompt": facts.get("prompt"),
            "lyrics": facts.get("lyrics"),
            "model": facts.get("model"),
            "image_url": thumbnail,
            "audio_url": audio_url,
            "canonical_url": SONG_URL.format(song_id),
            "has_clip_json": clip is not None,
        }
        artist = facts.get("display_name") or facts.get("creator")
        return result(
            page,
            thumbnail=thumbnail,
            description=facts.get("prompt") or self._og_search_description(webpage, default=None),
            uploader=artist,
            uploader_id=facts.get("creator"),
            artist=artist,
            tags=facts.get("tags") or None,
        )

"""Embedded tags, normalised across ID3, Vorbis comments, MP4 atoms and RIFF INFO."""

from __future__ import annotations

import json
from pathlib import Path

import mutagen

from core.ports import TagInfo
from storage.media.tools import run

MAX_VALUE = 4000  # characters kept of any one tag (a 10 MB tag must not reach the database)
MAX_TAGS = 200

_ID3 = {
    "TIT2": "title",
    "TPE1": "artist",
    "TALB": "album",
    "TCON": "genre",
    "TSSE": "encoder",
    "WOAS": "url",
    "WOAF": "url",
    "COMM": "comment",
    "USLT": "lyrics",
    "TXXX:style": "style",
    "TXXX:STYLE": "style",
    "TXXX:description": "style",
}
_VORBIS = {
    "title": "title",
    "artist": "artist",
    "album": "album",
    "genre": "genre",
    "comment": "comment",
    "description": "style",
    "lyrics": "lyrics",
    "unsyncedlyrics": "lyrics",
    "encoder": "encoder",
    "style": "style",
    "url": "url",
    "website": "url",
}
_MP4 = {
    "\xa9nam": "title",
    "\xa9ART": "artist",
    "\xa9alb": "album",
    "\xa9gen": "genre",
    "\xa9cmt": "comment",
    "\xa9lyr": "lyrics",
    "\xa9too": "encoder",
    "desc": "style",
}
_RIFF = {
    "title": "title",
    "artist": "artist",
    "album": "album",
    "genre": "genre",
    "comment": "comment",
    "encoder": "encoder",
    "encoded_by": "encoder",
}


def _text(value: object) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, (list, tuple)):
        text = "; ".join(_text(v) for v in value)
    elif hasattr(value, "text"):
        text = _text(value.text)
    elif hasattr(value, "url"):
        text = str(value.url)
    else:
        text = str(value)
    return text.replace("\x00", " ").strip()[:MAX_VALUE]


def _read_mutagen(path: Path) -> tuple[str, dict[str, str]]:
    try:
        parsed = mutagen.File(path)
    except Exception:  # hostile or odd tags: report none rather than fail the ingest
        return "none", {}
    if parsed is None or parsed.tags is None:
        return "none", {}
    raw: dict[str, str] = {}
    tags = parsed.tags
    kind = type(tags).__name__.lower()
    fmt = (
        "id3"
        if "id3" in kind
        else "mp4"
        if "mp4" in kind
        else "vorbis"
        if "vcomment" in kind or "vorbis" in kind
        else "other"
    )
    try:
        items = list(tags.items())
    except Exception:
        return fmt, {}
    for key, value in items[:MAX_TAGS]:
        if fmt == "id3" and (key.startswith("APIC") or key.startswith("GEOB")):
            continue  # pictures and binary objects (the C2PA manifest) are not text
        if fmt == "mp4" and key == "covr":
            continue
        name = str(key)
        raw[name[:100]] = _text(value)
    return fmt, raw


async def _read_riff(path: Path) -> dict[str, str]:
    code, out, _ = await run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", str(path)], 60)
    if code != 0:
        return {}
    tags = json.loads(out or b"{}").get("format", {}).get("tags", {}) or {}
    return {str(k).lower()[:100]: str(v)[:MAX_VALUE] for k, v in list(tags.items())[:MAX_TAGS]}


def _pick(raw: dict[str, str], mapping: dict[str, str], fmt: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not value:
            continue
        base = key if fmt != "id3" else key.split(":")[0] if not key.startswith("TXXX") else key
        field = mapping.get(base) or mapping.get(base.lower()) or mapping.get(key)
        if field and field not in out:
            out[field] = value
    return out


async def read_tags(path: Path, container: str | None = None) -> TagInfo:
    """Every text tag (capped) and the normalised fields; never raises."""
    fmt, raw = _read_mutagen(path)
    mapping = {"id3": _ID3, "mp4": _MP4, "vorbis": _VORBIS}.get(fmt, _VORBIS)
    if fmt == "none" and container == "wav":
        raw = await _read_riff(path)
        fmt, mapping = ("riff", _RIFF) if raw else ("none", _RIFF)
    fields = _pick(raw, mapping, fmt)
    return TagInfo(
        format=fmt,
        title=fields.get("title"),
        artist=fields.get("artist"),
        album=fields.get("album"),
        comment=fields.get("comment"),
        lyrics=fields.get("lyrics"),
        url=fields.get("url"),
        genre=fields.get("genre"),
        style=fields.get("style"),
        encoder=fields.get("encoder"),
        raw=raw,
    )

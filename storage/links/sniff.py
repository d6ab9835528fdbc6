"""Recognise audio and web pages from a content type and the first bytes of a body."""

from __future__ import annotations

AUDIO_TYPES = ("audio/", "video/webm", "video/ogg", "video/mp4", "application/ogg")
PAGE_TYPES = ("text/html", "application/xhtml+xml")
NEUTRAL_TYPES = ("application/octet-stream", "binary/octet-stream", "application/binary", "")


def media_type(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_like_audio(head: bytes) -> bool:
    """Whether the first bytes start an audio container we accept (MP3, FLAC, Ogg, WAV, MP4, WebM)."""
    if head.startswith((b"ID3", b"fLaC", b"OggS", b"\x1a\x45\xdf\xa3", b"#!AMR")):
        return True
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return True
    if head[4:8] == b"ftyp":
        return True
    if len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0:  # MPEG / ADTS frame sync
        return True
    return False


def looks_like_page(head: bytes) -> bool:
    """Whether the first bytes look like HTML or other text rather than media."""
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<!--", b"<")):
        return True
    if not head:
        return False
    sample = head[:512]
    printable = sum(1 for b in sample if 32 <= b < 127 or b in (9, 10, 13))
    return printable / len(sample) > 0.95


def is_page(content_type: str | None, head: bytes) -> bool:
    """A web page (HTML/text) rather than a media file, judging type and bytes together."""
    kind = media_type(content_type)
    if looks_like_audio(head):
        return False
    if kind.startswith(PAGE_TYPES) or kind.startswith("text/"):
        return True
    return looks_like_page(head)

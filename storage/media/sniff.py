"""What a file really is, from its first bytes (never from its name)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import NotAudioError


@dataclass(frozen=True)
class Sniffed:
    """The container found by magic bytes."""

    container: str  # mp3 | flac | ogg | m4a | wav
    media_type: str


_NOT_AUDIO = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
)


def _skip_id3(head: bytes) -> int:
    """Offset after an ID3v2 tag (its size is a 28-bit syncsafe integer)."""
    if head[:3] != b"ID3" or len(head) < 10:
        return 0
    size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
    return 10 + size + (10 if head[5] & 0x10 else 0)


def _is_mpeg_frame(data: bytes) -> bool:
    return (
        len(data) >= 4
        and data[0] == 0xFF
        and (data[1] & 0xE0) == 0xE0
        and (data[1] & 0x06) != 0
        and (data[2] & 0xF0) != 0xF0
        and (data[2] & 0x0C) != 0x0C
    )


def sniff(path: Path) -> Sniffed:
    """The audio container of ``path``; NotAudioError naming what it looks like otherwise."""
    size = path.stat().st_size
    if size == 0:
        raise NotAudioError("the file is empty")
    with path.open("rb") as handle:
        head = handle.read(64)
        offset = _skip_id3(head)
        if offset:
            handle.seek(offset)
            after = handle.read(4096)
            if after[:4] == b"fLaC":
                return Sniffed("flac", "audio/flac")
            for index in range(min(len(after) - 3, 2048)):
                if _is_mpeg_frame(after[index : index + 4]):
                    return Sniffed("mp3", "audio/mpeg")
            raise NotAudioError("the file has an ID3 tag but no audio after it")
    if head[:4] == b"fLaC":
        return Sniffed("flac", "audio/flac")
    if head[:4] == b"OggS":
        return Sniffed("ogg", "audio/ogg")
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return Sniffed("wav", "audio/wav")
    if head[4:8] == b"ftyp":
        return Sniffed("m4a", "audio/mp4")
    if _is_mpeg_frame(head):
        return Sniffed("mp3", "audio/mpeg")
    for magic, what in _NOT_AUDIO:
        if head.startswith(magic):
            raise NotAudioError(f"this is not audio: it looks like {what}")
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        raise NotAudioError("this is not audio: it looks like a web page")
    try:
        head.decode("utf-8")
        raise NotAudioError("this is not audio: it looks like a text file")
    except UnicodeDecodeError:
        pass
    raise NotAudioError("this is not audio: no known audio format (MP3, FLAC, Ogg, M4A, WAV) was found")

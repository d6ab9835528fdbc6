"""Probing: the real container, codec and duration; truncation caught by decoding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import mutagen

from core.errors import CorruptAudioError, NotAudioError
from core.model import AudioInfo
from storage.media.analysis import Decoded, decode_once, probe_streams
from storage.media.sniff import sniff

TRUNCATED_BELOW = 0.9  # decoded / header duration under this → truncated
MAX_ERROR_LINES = 50  # more decoder errors than this → damaged, even if it decodes to the end


def header_duration(path: Path) -> float | None:
    """What the container's header claims (Xing/VBRI, STREAMINFO, moov), via mutagen."""
    try:
        parsed = mutagen.File(path)
    except mutagen.MutagenError:
        return None
    except Exception:  # mutagen raises odd errors on hostile files; the header is then unknown
        return None
    length = getattr(getattr(parsed, "info", None), "length", None)
    return float(length) if length else None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


async def probe(path: Path) -> tuple[AudioInfo, Decoded]:
    """Sniff, ffprobe and the one decode; NotAudioError or CorruptAudioError when unusable."""
    found = sniff(path)
    data = await probe_streams(path)
    streams = data.get("streams")
    audio = [s for s in streams if isinstance(s, dict) and s.get("codec_type") == "audio"] \
        if isinstance(streams, list) else []
    if not audio:
        raise NotAudioError(f"the {found.container} file has no audio stream")
    stream = audio[0]
    fmt = data.get("format")
    fmt = fmt if isinstance(fmt, dict) else {}
    rate, channels = _int(stream.get("sample_rate")), _int(stream.get("channels"))
    if not rate or not channels:
        raise CorruptAudioError(f"the {found.container} file does not say its sample rate or channels")
    # the decode (seconds) and the header read (milliseconds) overlap
    decoded, header = await asyncio.gather(decode_once(path, rate, channels), asyncio.to_thread(header_duration, path))
    if header is None:
        try:
            header = float(fmt.get("duration") or stream.get("duration") or 0) or None
        except ValueError:
            header = None
    if decoded.decoded_s <= 0:
        raise CorruptAudioError("the file decodes to no audio at all")
    if header and decoded.decoded_s < header * TRUNCATED_BELOW and header - decoded.decoded_s > 0.5:
        raise CorruptAudioError(f"the file is truncated: its header says {header:.1f} s but only "
                                f"{decoded.decoded_s:.1f} s of audio is there")
    if decoded.error_lines > MAX_ERROR_LINES:
        raise CorruptAudioError(f"the audio is damaged: {decoded.first_error}")
    info = AudioInfo(
        container=found.container, codec=str(stream.get("codec_name") or "unknown"),
        media_type=found.media_type, duration_s=decoded.decoded_s, header_duration_s=header,
        sample_rate=rate, channels=channels, bit_rate=_int(stream.get("bit_rate") or fmt.get("bit_rate")),
    )
    return info, decoded

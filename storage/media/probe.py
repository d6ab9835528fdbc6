"""Probing: the real container, codec and duration; truncation caught by decoding."""

from __future__ import annotations

import asyncio
from pathlib import Path

import mutagen

from core.errors import CorruptAudioError, NotAudioError
from core.model import AudioInfo
from storage.media.analysis import Decoded, decode_once
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


async def probe(path: Path) -> tuple[AudioInfo, Decoded]:
    """Sniff and the one decode; NotAudioError or CorruptAudioError when unusable."""
    found = sniff(path)
    # the decode (seconds) and the header read (milliseconds) overlap
    decoded, header = await asyncio.gather(decode_once(path), asyncio.to_thread(header_duration, path))
    stream = decoded.stream
    if stream is None:
        if decoded.error_lines:
            raise CorruptAudioError(f"the {found.container} file is damaged: {decoded.first_error}")
        raise NotAudioError(f"the {found.container} file has no audio stream")
    header = header or stream.container_duration_s
    if decoded.decoded_s <= 0:
        raise CorruptAudioError("the file decodes to no audio at all")
    if header and decoded.decoded_s < header * TRUNCATED_BELOW and header - decoded.decoded_s > 0.5:
        raise CorruptAudioError(
            f"the file is truncated: its header says {header:.1f} s but only "
            f"{decoded.decoded_s:.1f} s of audio is there"
        )
    if decoded.error_lines > MAX_ERROR_LINES:
        raise CorruptAudioError(f"the audio is damaged: {decoded.first_error}")
    info = AudioInfo(
        container=found.container,
        codec=stream.codec,
        media_type=found.media_type,
        duration_s=decoded.decoded_s,
        header_duration_s=header,
        sample_rate=stream.sample_rate,
        channels=stream.channels,
        bit_rate=stream.bit_rate,
    )
    return info, decoded

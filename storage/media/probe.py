"""Probing: the real container, codec and duration; truncation caught by decoding."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mutagen

from core.errors import CorruptAudioError, NotAudioError
from core.model import AudioInfo
from storage.media.sniff import sniff
from storage.media.tools import run

TRUNCATED_BELOW = 0.9  # decoded / header duration under this → truncated
_OUT_TIME = re.compile(rb"out_time_us=(\d+)")


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


async def decoded_duration(path: Path) -> tuple[float, bytes]:
    """Seconds of audio ffmpeg actually decodes, and its error output."""
    code, out, err = await run(["ffmpeg", "-nostdin", "-v", "error", "-nostats", "-i", str(path), "-map", "0:a:0",
                                "-f", "null", "-", "-progress", "pipe:1"], timeout_s=300)
    times = _OUT_TIME.findall(out)
    if code != 0 and not times:
        raise CorruptAudioError(f"the audio cannot be decoded: {_first_line(err)}")
    return (int(times[-1]) / 1e6 if times else 0.0), err


def _first_line(err: bytes) -> str:
    text = err.decode("utf-8", "replace").strip().splitlines()
    return text[0][:200] if text else "unknown error"


async def probe(path: Path) -> AudioInfo:
    """Sniff, ffprobe and decode; NotAudioError or CorruptAudioError when unusable."""
    found = sniff(path)
    code, out, err = await run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                                str(path)], timeout_s=60)
    if code != 0:
        raise CorruptAudioError(f"the {found.container} file is damaged: {_first_line(err)}")
    data = json.loads(out or b"{}")
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise NotAudioError(f"the {found.container} file has no audio stream")
    stream = audio[0]
    decoded, errors = await decoded_duration(path)
    header = header_duration(path)
    if header is None:
        try:
            header = float(data.get("format", {}).get("duration") or stream.get("duration") or 0) or None
        except ValueError:
            header = None
    if decoded <= 0:
        raise CorruptAudioError("the file decodes to no audio at all")
    if header and decoded < header * TRUNCATED_BELOW and header - decoded > 0.5:
        raise CorruptAudioError(
            f"the file is truncated: its header says {header:.1f} s but only {decoded:.1f} s of audio is there")
    if errors.count(b"\n") > 50:
        raise CorruptAudioError(f"the audio is damaged: {_first_line(errors)}")

    def _int(value: object) -> int | None:
        try:
            return int(str(value))
        except ValueError:
            return None

    return AudioInfo(
        container=found.container, codec=str(stream.get("codec_name") or "unknown"),
        media_type=found.media_type, duration_s=decoded, header_duration_s=header,
        sample_rate=_int(stream.get("sample_rate")), channels=_int(stream.get("channels")),
        bit_rate=_int(stream.get("bit_rate") or data.get("format", {}).get("bit_rate")),
    )

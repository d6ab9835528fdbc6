"""One decode per track: a single ffmpeg process feeds every measure that needs samples.

The filter graph splits the decoded audio in two:

- full rate: EBU R128 loudness with true and sample peak, and volumedetect (clipping share
  and the exact count of decoded samples, which gives the decoded duration that the
  truncation check compares with the header);
- 11,025 Hz mono s16 (what Chromaprint resamples to itself, so fingerprints are
  bit-identical to ``fpcalc FILE``): silencedetect, and the first ``FINGERPRINT_SECONDS``
  piped straight into ``fpcalc -`` running in parallel on the other core.

The codec, sample rate, channels and bit rate come from the same process's description of
its input (no ffprobe: starting a second libav program costs ~0.13 s of CPU per track,
about a sixth of the whole pass for a 60 s MP3).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import CorruptAudioError
from core.model import Fingerprint, QualityReport
from storage.media.quality import N_SAMPLES, last_match, parse_report, static_share
from storage.media.tools import require

FINGERPRINT_SECONDS = 180
FINGERPRINT_RATE = 11025
# Debian 12's fpcalc exits 3 on valid output (it reports the end of its input as an error).
_FPCALC_OK = (0, 3)
_LEVEL_ERROR = re.compile(r"^\[(?:[^]]*\] )?\[(?:error|fatal|panic)\]", re.MULTILINE)


_INPUT_AUDIO = re.compile(r"Stream #0:\d+\S*: Audio: (\w+)[^,]*, (\d+) Hz, ([^,]+)(?:, [^,\n]+)?(?:, (\d+) kb/s)?")
_DURATION = re.compile(r"Duration: (\d+):(\d+):([\d.]+)")
_FORMAT_RATE = re.compile(r"Duration: [^\n]*bitrate: (\d+) kb/s")
_TIME = re.compile(r"time=(\d+):(\d+):([\d.]+)")
_N_CHANNELS = re.compile(r"(\d+) channels")
LAYOUT_CHANNELS = {
    "mono": 1,
    "stereo": 2,
    "2.1": 3,
    "3.0": 3,
    "3.0(back)": 3,
    "4.0": 4,
    "quad": 4,
    "quad(side)": 4,
    "3.1": 4,
    "5.0": 5,
    "5.0(side)": 5,
    "4.1": 5,
    "5.1": 6,
    "5.1(side)": 6,
    "6.0": 6,
    "6.0(front)": 6,
    "hexagonal": 6,
    "6.1": 7,
    "6.1(back)": 7,
    "6.1(front)": 7,
    "7.0": 7,
    "7.0(front)": 7,
    "7.1": 8,
    "7.1(wide)": 8,
    "7.1(wide-side)": 8,
    "octagonal": 8,
    "downmix": 2,
}


@dataclass(frozen=True)
class InputStream:
    """The audio stream ffmpeg decoded, as it described it."""

    codec: str
    sample_rate: int
    channels: int | None
    bit_rate: int | None  # bits per second, stream's or else the container's
    container_duration_s: float | None


@dataclass(frozen=True)
class Decoded:
    """What the one decode found."""

    stream: InputStream | None  # None: the file has no audio stream ffmpeg can read
    decoded_s: float  # seconds of audio actually decoded
    error_lines: int  # decoder errors logged on the way
    first_error: str
    quality: QualityReport
    fingerprint: Fingerprint | None


def _graph(silence_db: int = -60) -> str:
    fp = f"aresample={FINGERPRINT_RATE},aformat=sample_fmts=s16:channel_layouts=mono"
    return (
        f"[0:a:0]asplit=2[full][low];"
        f"[full]ebur128=peak=true+sample:framelog=verbose,volumedetect[loud];"
        f"[low]{fp},asplit=3[sil][fp][flat];"
        f"[sil]silencedetect=n={silence_db}dB:d=0.5,anullsink;"
        # per-frame spectral flatness: its median tells a noise floor from music (the quality gate)
        f"[flat]aspectralstats=win_size=1024:overlap=0,"
        f"ametadata=mode=print:key=lavfi.aspectralstats.1.flatness,anullsink;"
        f"[fp]atrim=end={FINGERPRINT_SECONDS}[pcm]"
    )


def first_error(stderr: str) -> str:
    """The first error line of an ffmpeg log made with ``-loglevel level+info``."""
    for line in stderr.splitlines():
        if _LEVEL_ERROR.match(line):
            return re.sub(r"\[(error|fatal|panic)\] ", "", line).strip()[:200]
    return "unknown error"


def _hms(match: re.Match[str] | None) -> float | None:
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60 + float(match.group(3)) if match else None


def input_stream(stderr: str) -> InputStream | None:
    """The first audio stream of the input, from ffmpeg's description of it."""
    head = stderr.split("Stream mapping:", 1)[0]
    found = _INPUT_AUDIO.search(head)
    if found is None:
        return None
    layout = found.group(3).strip()
    counted = _N_CHANNELS.fullmatch(layout)
    channels = int(counted.group(1)) if counted else LAYOUT_CHANNELS.get(layout)
    rate = found.group(4) or (lambda m: m.group(1) if m else None)(_FORMAT_RATE.search(head))
    return InputStream(
        codec=found.group(1),
        sample_rate=int(found.group(2)),
        channels=channels,
        bit_rate=int(rate) * 1000 if rate else None,
        container_duration_s=_hms(_DURATION.search(head)),
    )


def _parse_fingerprint(out: bytes) -> tuple[int, ...] | None:
    try:
        data = json.loads(out)
    except ValueError:
        return None
    values = data.get("fingerprint") or []
    if not isinstance(values, list) or len(values) < 16:
        return None
    return tuple(int(v) & 0xFFFFFFFF for v in values)


async def decode_once(path: Path, timeout_s: float = 600.0) -> Decoded:
    """Run the one pass over ``path``; CorruptAudioError when nothing of it decodes."""
    ffmpeg = require("ffmpeg")
    fpcalc = require("fpcalc")
    read_fd, write_fd = os.pipe()
    try:
        decoder = await asyncio.create_subprocess_exec(
            ffmpeg,
            "-nostdin",
            "-hide_banner",
            "-nostats",
            "-loglevel",
            "level+info",
            "-i",
            str(path),
            "-filter_complex",
            _graph(),
            "-map",
            "[loud]",
            "-f",
            "null",
            "-",
            "-map",
            "[pcm]",
            "-f",
            "s16le",
            "pipe:1",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_fd,
            stderr=asyncio.subprocess.PIPE,
        )
        # -length above what ffmpeg sends: fpcalc reads to the end, so ffmpeg never meets a closed pipe
        printer = await asyncio.create_subprocess_exec(
            fpcalc,
            "-format",
            "s16le",
            "-rate",
            str(FINGERPRINT_RATE),
            "-channels",
            "1",
            "-raw",
            "-json",
            "-length",
            str(FINGERPRINT_SECONDS + 10),
            "-",
            stdin=read_fd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    finally:
        # the children hold their own copies: closing ours lets fpcalc see the end of input
        os.close(read_fd)
        os.close(write_fd)
    try:
        (_, err), (fp_out, _) = await asyncio.wait_for(
            asyncio.gather(decoder.communicate(), printer.communicate()), timeout_s
        )
    except TimeoutError:
        for proc in (decoder, printer):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        raise CorruptAudioError(f"decoding took longer than {timeout_s:.0f} s on this file") from None
    log_text = err.decode("utf-8", "replace")
    stream = input_stream(log_text)
    samples = int(last_match(N_SAMPLES, log_text) or 0)
    if stream is not None and stream.channels:
        decoded_s = samples / (stream.sample_rate * stream.channels)
    else:  # a layout we cannot count: the end time of the decoded stream, to 10 ms
        decoded_s = (_hms(list(_TIME.finditer(log_text))[-1]) or 0.0) if samples and _TIME.search(log_text) else 0.0
    errors = len(_LEVEL_ERROR.findall(log_text))
    if stream is None:
        return Decoded(None, 0.0, errors, first_error(log_text), parse_report(""), None)
    if decoder.returncode != 0 and decoded_s <= 0:
        raise CorruptAudioError(f"the audio cannot be decoded: {first_error(log_text)}")
    quality = parse_report(log_text, total_s=decoded_s)
    values = _parse_fingerprint(fp_out) if printer.returncode in _FPCALC_OK else None
    fingerprint = Fingerprint(values, round(decoded_s, 2)) if values else None
    if values:
        quality = replace(quality, static_share=static_share(values))
    return Decoded(stream, decoded_s, errors, first_error(log_text) if errors else "", quality, fingerprint)

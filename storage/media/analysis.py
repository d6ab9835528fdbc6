"""One decode per track: a single ffmpeg process feeds every measure that needs samples.

The filter graph splits the decoded audio in two:

- full rate: EBU R128 loudness with true and sample peak, and volumedetect (clipping share
  and the exact count of decoded samples, which gives the decoded duration that the
  truncation check compares with the header);
- 11,025 Hz mono s16 (what Chromaprint resamples to itself, so fingerprints are
  bit-identical to ``fpcalc FILE``): silencedetect, and the first ``FINGERPRINT_SECONDS``
  piped straight into ``fpcalc -`` running in parallel on the other core.

ffprobe (container, codec, rate, channels) runs alongside; it reads headers only.
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
from storage.media.tools import require, run

FINGERPRINT_SECONDS = 180
FINGERPRINT_RATE = 11025
# Debian 12's fpcalc exits 3 on valid output (it reports the end of its input as an error).
_FPCALC_OK = (0, 3)
_LEVEL_ERROR = re.compile(r"^\[(?:[^]]*\] )?\[(?:error|fatal|panic)\]", re.MULTILINE)


@dataclass(frozen=True)
class Decoded:
    """What the one decode found."""

    decoded_s: float  # seconds of audio actually decoded
    error_lines: int  # decoder errors logged on the way
    first_error: str
    quality: QualityReport
    fingerprint: Fingerprint | None


def _graph(silence_db: int = -60) -> str:
    fp = f"aresample={FINGERPRINT_RATE},aformat=sample_fmts=s16:channel_layouts=mono"
    return (f"[0:a:0]asplit=2[full][low];"
            f"[full]ebur128=peak=true+sample:framelog=verbose,volumedetect[loud];"
            f"[low]{fp},asplit=2[sil][fp];"
            f"[sil]silencedetect=n={silence_db}dB:d=0.5,anullsink;"
            f"[fp]atrim=end={FINGERPRINT_SECONDS}[pcm]")


def first_error(stderr: str) -> str:
    """The first error line of an ffmpeg log made with ``-loglevel level+info``."""
    for line in stderr.splitlines():
        if _LEVEL_ERROR.match(line):
            return re.sub(r"\[(error|fatal|panic)\] ", "", line).strip()[:200]
    return "unknown error"


def _parse_fingerprint(out: bytes) -> tuple[int, ...] | None:
    try:
        data = json.loads(out)
    except ValueError:
        return None
    values = data.get("fingerprint") or []
    if not isinstance(values, list) or len(values) < 16:
        return None
    return tuple(int(v) & 0xFFFFFFFF for v in values)


async def decode_once(path: Path, sample_rate: int, channels: int, timeout_s: float = 600.0) -> Decoded:
    """Run the one pass over ``path`` (whose rate and channel count ffprobe gave)."""
    ffmpeg = require("ffmpeg")
    fpcalc = require("fpcalc")
    read_fd, write_fd = os.pipe()
    try:
        decoder = await asyncio.create_subprocess_exec(
            ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info", "-i", str(path),
            "-filter_complex", _graph(), "-map", "[loud]", "-f", "null", "-",
            "-map", "[pcm]", "-f", "s16le", "pipe:1",
            stdin=asyncio.subprocess.DEVNULL, stdout=write_fd, stderr=asyncio.subprocess.PIPE)
        # -length above what ffmpeg sends: fpcalc reads to the end, so ffmpeg never meets a closed pipe
        printer = await asyncio.create_subprocess_exec(
            fpcalc, "-format", "s16le", "-rate", str(FINGERPRINT_RATE), "-channels", "1", "-raw", "-json",
            "-length", str(FINGERPRINT_SECONDS + 10), "-",
            stdin=read_fd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    finally:
        # the children hold their own copies: closing ours lets fpcalc see the end of input
        os.close(read_fd)
        os.close(write_fd)
    try:
        (_, err), (fp_out, _) = await asyncio.wait_for(
            asyncio.gather(decoder.communicate(), printer.communicate()), timeout_s)
    except TimeoutError:
        for proc in (decoder, printer):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        raise CorruptAudioError(f"decoding took longer than {timeout_s:.0f} s on this file") from None
    log_text = err.decode("utf-8", "replace")
    samples = int(last_match(N_SAMPLES, log_text) or 0)
    decoded_s = samples / (sample_rate * channels) if sample_rate and channels else 0.0
    errors = len(_LEVEL_ERROR.findall(log_text))
    if decoder.returncode != 0 and decoded_s <= 0:
        raise CorruptAudioError(f"the audio cannot be decoded: {first_error(log_text)}")
    quality = parse_report(log_text, total_s=decoded_s)
    values = _parse_fingerprint(fp_out) if printer.returncode in _FPCALC_OK else None
    fingerprint = Fingerprint(values, round(decoded_s, 2)) if values else None
    if values:
        quality = replace(quality, static_share=static_share(values))
    return Decoded(decoded_s, errors, first_error(log_text) if errors else "", quality, fingerprint)


async def probe_streams(path: Path) -> dict[str, object]:
    """ffprobe's JSON for the container and streams; CorruptAudioError when it cannot read them."""
    code, out, err = await run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                                str(path)], timeout_s=60)
    if code != 0:
        text = err.decode("utf-8", "replace").strip().splitlines()
        raise CorruptAudioError(f"the file is damaged: {text[0][:200] if text else 'unknown error'}")
    data = json.loads(out or b"{}")
    return data if isinstance(data, dict) else {}

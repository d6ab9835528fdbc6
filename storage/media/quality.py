"""One ffmpeg pass: integrated loudness, true peak, silence, clipping share.

Clipping share is the share of samples in volumedetect's top histogram bin when that bin
is 0 dB, i.e. samples within 1 dB of full scale: clipping survives MP3 encoding as many
samples near full scale (notes/provenance.md), not as flat runs.
"""

from __future__ import annotations

import re
from pathlib import Path

from core.model import QualityReport
from storage.media.tools import run

_I = re.compile(r"^\s*I:\s+(-?[\d.]+|-inf)\s+LUFS", re.MULTILINE)
_TRUE_PEAK = re.compile(r"True peak:\s*\n\s*Peak:\s+(-?[\d.]+|-inf)\s+dBFS")
_SILENCE = re.compile(r"silence_duration:\s*([\d.]+)")
_SILENCE_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_SAMPLES = re.compile(r"n_samples:\s*(\d+)")
_TOP_BIN = re.compile(r"histogram_0db:\s*(\d+)")
_TIME = re.compile(r"time=(\d+):(\d+):([\d.]+)")
# issue 12: spectral flatness per frame (ametadata print), its median tells a noise floor from music.
# Mono at 11 kHz without overlap: ~11 frames a second, no measurable cost over the pass.
_FLATNESS = re.compile(r"aspectralstats\.1\.flatness=([\d.eE+-]+)")


def _number(match: re.Match[str] | None) -> float | None:
    if match is None or match.group(1) == "-inf":
        return None
    return float(match.group(1))


def parse_report(stderr: str) -> QualityReport:
    """The report from ffmpeg's log of the one pass."""
    loudness = _number(list(_I.finditer(stderr))[-1] if _I.search(stderr) else None)
    peak = _number(_TRUE_PEAK.search(stderr))
    silence = sum(float(x) for x in _SILENCE.findall(stderr))
    ends = len(_SILENCE.findall(stderr))
    starts = _SILENCE_START.findall(stderr)
    if len(starts) > ends:  # silence running to the end of the file has no end line
        times = _TIME.findall(stderr)
        if times:
            hours, minutes, seconds = times[-1]
            total = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
            silence += max(0.0, total - float(starts[-1]))
    samples = _SAMPLES.search(stderr)
    top = _TOP_BIN.search(stderr)
    clipping = int(top.group(1)) / int(samples.group(1)) if samples and top and int(samples.group(1)) else 0.0
    if loudness is not None and loudness <= -69.9:
        loudness = None  # ebur128's floor: there is nothing to measure
    flat = sorted(float(x) for x in _FLATNESS.findall(stderr))
    return QualityReport(integrated_lufs=loudness, true_peak_dbtp=peak, silence_s=round(silence, 3),
                         clipping_share=round(clipping, 6),
                         spectral_flatness=round(flat[len(flat) // 2], 4) if flat else None)


async def quality(path: Path) -> QualityReport:
    """Run the pass and parse it."""
    _code, _out, err = await run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-i", str(path), "-map", "0:a:0", "-af",
         "ebur128=peak=true+sample:framelog=verbose,silencedetect=n=-60dB:d=0.5,volumedetect,"
         "aformat=channel_layouts=mono,aresample=11025,aspectralstats=win_size=1024:overlap=0,"
         "ametadata=mode=print:key=lavfi.aspectralstats.1.flatness",
         "-f", "null", "-"], timeout_s=600)
    return parse_report(err.decode("utf-8", "replace"))

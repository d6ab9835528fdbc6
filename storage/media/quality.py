"""Reading the quality measures out of the one pass's ffmpeg log.

Clipping share is the share of samples in volumedetect's top histogram bin when that bin
is 0 dB, i.e. samples within 1 dB of full scale: clipping survives MP3 encoding as many
samples near full scale, not as flat runs.
"""

from __future__ import annotations

import re

from core.model import QualityReport

_I = re.compile(r"^\s*I:\s+(-?[\d.]+|-inf)\s+LUFS", re.MULTILINE)
_TRUE_PEAK = re.compile(r"True peak:\s*\n\s*Peak:\s+(-?[\d.]+|-inf)\s+dBFS")
_SILENCE = re.compile(r"silence_duration:\s*([\d.]+)")
_SILENCE_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
N_SAMPLES = re.compile(r"n_samples:\s*(\d+)")
_TOP_BIN = re.compile(r"histogram_0db:\s*(\d+)")
_TIME = re.compile(r"time=(\d+):(\d+):([\d.]+)")
STATIC_BITS = 2  # sub-fingerprints this close to the previous one count as "the same sound held"
# Spectral flatness per frame (ametadata print), its median tells a noise floor from music.
# Mono at 11 kHz without overlap: ~11 frames a second, no measurable cost over the pass.
_FLATNESS = re.compile(r"aspectralstats\.1\.flatness=([\d.eE+-]+)")


def last_match(pattern: re.Pattern[str], text: str) -> str | None:
    # ffmpeg builds the filter graph twice (again when the first frame shows the real format)
    # and the first, empty graph logs its own summary: the last one is the real one.
    found = pattern.findall(text)
    return str(found[-1]) if found else None


def _number(value: str | None) -> float | None:
    return None if value is None or value == "-inf" else float(value)


def static_share(values: tuple[int, ...]) -> float:
    """Share of consecutive Chromaprint sub-fingerprints within ``STATIC_BITS`` bits of each other.

    About 8 sub-fingerprints a second: 1.0 is one unchanging sound (a held tone, a drone,
    a frozen loop); music that moves sits well below.
    """
    if len(values) < 2:
        return 0.0
    same = sum(1 for a, b in zip(values, values[1:], strict=False) if (a ^ b).bit_count() <= STATIC_BITS)
    return round(same / (len(values) - 1), 4)


def parse_report(stderr: str, total_s: float | None = None) -> QualityReport:
    """The report from ffmpeg's log of the one pass; ``total_s`` is the decoded duration."""
    loudness = _number(last_match(_I, stderr))
    peak = _number(last_match(_TRUE_PEAK, stderr))
    silence = sum((float(x) for x in _SILENCE.findall(stderr)), 0.0)
    ends = len(_SILENCE.findall(stderr))
    starts = _SILENCE_START.findall(stderr)
    if total_s is None:
        times = _TIME.findall(stderr)
        if times:
            hours, minutes, seconds = times[-1]
            total_s = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    if len(starts) > ends and total_s:  # silence running to the end of the file has no end line
        silence += max(0.0, total_s - float(starts[-1]))
    samples = int(last_match(N_SAMPLES, stderr) or 0)
    top = last_match(_TOP_BIN, stderr)
    clipping = int(top) / samples if samples and top else 0.0
    if loudness is not None and loudness <= -69.9:
        loudness = None  # ebur128's floor: there is nothing to measure
    fraction = min(1.0, silence / total_s) if total_s else None
    flat = sorted(float(x) for x in _FLATNESS.findall(stderr))
    return QualityReport(
        integrated_lufs=loudness,
        true_peak_dbtp=peak,
        silence_s=round(silence, 3),
        clipping_share=round(clipping, 6),
        silent_fraction=round(fraction, 4) if fraction is not None else None,
        spectral_flatness=round(flat[len(flat) // 2], 4) if flat else None,
    )

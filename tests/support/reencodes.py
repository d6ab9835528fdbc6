"""Re-encodes of one recording, the way members re-upload tracks, and their real fingerprints.

MP3 96 and 320 kb/s, AAC, Opus, trims of 1 and 2 s from the start, gain of +6 and -6 dB:
the near-duplicate goal's list. ``fpcalc`` is the real Chromaprint tool.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

# variant name -> ffmpeg output arguments, then the file suffix
VARIANTS: dict[str, tuple[str, ...]] = {
    "mp3-96": ("-c:a", "libmp3lame", "-b:a", "96k", ".mp3"),
    "mp3-320": ("-c:a", "libmp3lame", "-b:a", "320k", ".mp3"),
    "aac-128": ("-c:a", "aac", "-b:a", "128k", ".m4a"),
    "opus-96": ("-c:a", "libopus", "-b:a", "96k", ".ogg"),
    "trim-1s": ("-ss", "1.0", "-c:a", "libmp3lame", "-b:a", "192k", ".mp3"),
    "trim-2s": ("-ss", "2.0", "-c:a", "libmp3lame", "-b:a", "192k", ".mp3"),
    "gain+6dB": ("-af", "volume=6dB", "-c:a", "libmp3lame", "-b:a", "192k", ".mp3"),
    "gain-6dB": ("-af", "volume=-6dB", "-c:a", "libmp3lame", "-b:a", "192k", ".mp3"),
}


def fpcalc(path: Path) -> list[int]:
    """Raw Chromaprint items of a file (Debian 12's fpcalc exits 3 on valid output: read the JSON)."""
    done = subprocess.run(["fpcalc", "-raw", "-json", str(path)], capture_output=True, text=True, timeout=120)
    return [int(v) & 0xFFFFFFFF for v in json.loads(done.stdout)["fingerprint"]]


def reencode(src: Path, name: str, work: Path) -> Path:
    """``src`` re-encoded as the variant ``name`` (a new file in ``work``)."""
    *args, suffix = VARIANTS[name]
    dst = work / f"{src.stem}.{name}{suffix}"
    seek = list(args[:2]) if args[0] == "-ss" else []
    rest = args[2:] if seek else args
    subprocess.run(["ffmpeg", "-v", "error", "-y", *seek, "-i", str(src), *rest, str(dst)], check=True, timeout=120)
    return dst


def variant_fingerprints(src: Path, work: Path) -> dict[str, list[int]]:
    """The original's fingerprint (``base``) and every variant's; the variant files are deleted."""
    out = {"base": fpcalc(src)}
    for name in VARIANTS:
        dst = reencode(src, name, work)
        try:
            out[name] = fpcalc(dst)
        finally:
            dst.unlink(missing_ok=True)
    return out

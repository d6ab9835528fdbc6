"""Real fingerprints for the near-duplicate benchmark and contract test: generated audio through fpcalc.

``real_corpus(cache_dir, bases, variant_bases)`` makes ``bases`` distinct 20 s recordings
(seeded two-voice tunes from ffmpeg sine sources, MP3 128 kb/s) and, for the first ``variant_bases`` of
them, the re-encodes the goal names: MP3 96 and 320 kb/s, AAC, Opus, trims of 1 and 2 s,
gain of +6 and -6 dB. Every file goes through ``fpcalc -raw``; the fingerprints are cached
as JSON per recording (the audio is deleted), so a second run takes no time.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.reencodes import fpcalc, variant_fingerprints  # noqa: E402


def make_song(path: Path, seconds: float, seed: int) -> Path:
    """A seeded two-voice tune: 16 half-second lead notes over 4 bass notes, looped (ffmpeg sine sources: fast)."""
    rng = random.Random(seed)
    lead = [round(220 * 2 ** (rng.randrange(0, 24) / 12), 2) for _ in range(16)]
    bass = [round(55 * 2 ** (rng.randrange(0, 12) / 12), 2) for _ in range(4)]
    inputs: list[str] = []
    for freq in lead:
        inputs += ["-f", "lavfi", "-i", f"sine=f={freq}:d=0.5:sample_rate=22050"]
    for freq in bass:
        inputs += ["-f", "lavfi", "-i", f"sine=f={freq}:d=2:sample_rate=22050"]
    chain = "".join(f"[{i}:a]" for i in range(16)) + "concat=n=16:v=0:a=1[l];"
    chain += "".join(f"[{16 + i}:a]" for i in range(4)) + "concat=n=4:v=0:a=1[b];"
    chain += f"[l][b]amix=inputs=2,aloop=loop=-1:size={8 * 22050},atrim=0:{seconds}[out]"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            *inputs,
            "-filter_complex",
            chain,
            "-map",
            "[out]",
            "-ar",
            "44100",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            str(path),
        ],
        check=True,
        timeout=300,
    )
    return path


def _one(seed: int, with_variants: bool, work: Path, cache_dir: Path) -> dict[str, list[int]]:
    cached = cache_dir / f"track_{seed}_{int(with_variants)}.json"
    if cached.exists():
        loaded: dict[str, list[int]] = json.loads(cached.read_text())
        return loaded
    src = make_song(work / f"base{seed}.mp3", 20, 1000 + seed)
    try:
        out = variant_fingerprints(src, work) if with_variants else {"base": fpcalc(src)}
    finally:
        src.unlink(missing_ok=True)
    cached.write_text(json.dumps(out))
    return out


def real_corpus(cache_dir: Path, bases: int = 64, variant_bases: int = 16) -> list[dict[str, list[int]]]:
    """Fingerprints of ``bases`` recordings, the first ``variant_bases`` with their re-encodes (cached per track)."""
    tracks_dir = cache_dir / "real"
    tracks_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as workers:
        work = Path(tmp)
        return list(workers.map(lambda seed: _one(seed, seed < variant_bases, work, tracks_dir), range(bases)))


if __name__ == "__main__":
    import time

    started = time.perf_counter()
    corpus = real_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench/out/near_dup"))
    print(f"{len(corpus)} tracks in {time.perf_counter() - started:.0f} s")

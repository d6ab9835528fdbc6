"""Real fingerprints for the near-duplicate benchmark and contract test: generated audio through fpcalc.

``real_corpus(cache_dir, bases, variant_bases)`` makes ``bases`` distinct tracks
(24 s seeded ffmpeg chord sequences, MP3 128 kb/s) and, for the first ``variant_bases`` of
them, the re-encodes the goal names: MP3 96 and 320 kb/s, AAC, Opus, trims of 1 and 2 s,
gain of +6 and -6 dB. Every file goes through ``fpcalc -raw``; the fingerprints are cached
as JSON (the audio is deleted), so a second run takes no time.
"""

from __future__ import annotations

import json
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.audio import make_long_mp3  # noqa: E402
from tests.support.reencodes import fpcalc, variant_fingerprints  # noqa: E402


def _one(seed: int, with_variants: bool, work: Path) -> dict[str, list[int]]:
    src = make_long_mp3(work / f"base{seed}.mp3", 24, 1000 + seed)
    try:
        return variant_fingerprints(src, work) if with_variants else {"base": fpcalc(src)}
    finally:
        src.unlink(missing_ok=True)


def real_corpus(cache_dir: Path, bases: int = 120, variant_bases: int = 16) -> list[dict[str, list[int]]]:
    """Fingerprints of ``bases`` tracks, the first ``variant_bases`` with their re-encodes (cached)."""
    cache = cache_dir / f"real_corpus_{bases}_{variant_bases}.json"
    if cache.exists():
        loaded: list[dict[str, list[int]]] = json.loads(cache.read_text())
        return loaded
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as workers:
        work = Path(tmp)
        corpus = list(workers.map(lambda seed: _one(seed, seed < variant_bases, work), range(bases)))
    cache.write_text(json.dumps(corpus))
    return corpus


if __name__ == "__main__":
    import time

    started = time.perf_counter()
    corpus = real_corpus(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("bench/out/near_dup"))
    print(f"{len(corpus)} tracks in {time.perf_counter() - started:.0f} s")

"""Ingest benchmark: pool hashing+storing vs plain hashlib+write, and per-stage ingest times.

    .venv/bin/python bench/ingest.py [--tracks 200] [--seconds 60] [--analyse 40]

1. Generates ``--tracks`` MP3s (~1 MB each at 60 s): eight seeded ffmpeg recordings, each
   copied with its own ID3 title so every file has distinct bytes (cached in /tmp).
2. Stores them with ``DiskBlobPool.put_file`` (streamed CID hashing, temp file, fsync,
   rename) and, in the same run, with a baseline that does only ``hashlib.sha256`` plus
   write + fsync of the same bytes. Prints the throughput ratio (goal >= 0.8).
3. Ingests ``--analyse`` of them through the real ``IngestService`` and prints the mean
   time per track of each stage.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mutagen.id3 import ID3, TIT2  # noqa: E402

from tests.support.audio import make_long_mp3  # noqa: E402


def _baseline(files: list[Path], out_dir: Path) -> float:
    """Seconds for sha256 + write + fsync of every file (1 MiB reads)."""
    started = time.perf_counter()
    for index, path in enumerate(files):
        digest = hashlib.sha256()
        target = out_dir / f"{index}.bin"
        with path.open("rb") as src, target.open("wb") as dst:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        digest.hexdigest()
    return time.perf_counter() - started


async def _pool(files: list[Path], root: Path) -> float:
    from storage.blob_pool import DiskBlobPool

    pool = DiskBlobPool(root)
    started = time.perf_counter()
    for path in files:
        await pool.put_file(path)
    return time.perf_counter() - started


async def _stages(files: list[Path], data_dir: Path) -> dict[str, float]:
    from bots.runtime import open_instance
    from config import load_settings
    from core.model import Sharer

    os.environ["WAVEPOOL_DATA_DIR"] = str(data_dir)
    async with open_instance(load_settings(None)) as instance:
        ingest = instance.app.ingest
        for index, path in enumerate(files):
            await ingest.ingest_file(path, Sharer("cli", f"bench{index}", "bench"), filename=path.name)
        return {stage: ingest.stage_seconds[stage] / max(1, ingest.stage_counts[stage])
                for stage in ingest.stage_seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--analyse", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of the storing comparison")
    args = parser.parse_args()
    cache = Path(tempfile.gettempdir()) / f"wavepool-bench-{args.tracks}x{args.seconds:g}"
    cache.mkdir(exist_ok=True)
    files = []
    bases = []
    for seed in range(8):  # eight distinct recordings; each track is one of them with its own tags
        base = cache / f"base{seed}.mp3"
        if not base.exists():
            make_long_mp3(base, seconds=args.seconds, seed=seed)
        bases.append(base)
    for index in range(args.tracks):
        path = cache / f"track{index:04d}.mp3"
        if not path.exists():
            shutil.copyfile(bases[index % len(bases)], path)
            tags = ID3()
            tags.add(TIT2(encoding=3, text=f"Bench track {index}"))
            tags.save(str(path))
        files.append(path)
    total = sum(p.stat().st_size for p in files)
    ratios, pool_rates, base_rates = [], [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as work:
            base_dir = Path(work) / "baseline"
            base_dir.mkdir()
            base_s = _baseline(files, base_dir)
            shutil.rmtree(base_dir)
            pool_s = asyncio.run(_pool(files, Path(work) / "pool"))
        base_rates.append(total / base_s / 1e6)
        pool_rates.append(total / pool_s / 1e6)
        ratios.append(base_s / pool_s)
    print(f"{args.tracks} tracks, {total / 1e6:.1f} MB")
    print(f"baseline sha256+write+fsync: {statistics.median(base_rates):8.1f} MB/s (median of {args.rounds})")
    print(f"DiskBlobPool.put_file:       {statistics.median(pool_rates):8.1f} MB/s")
    ratio = statistics.median(ratios)
    print(f"ratio pool/baseline:         {ratio:8.2f}  (goal >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'})")
    with tempfile.TemporaryDirectory() as work:
        stages = asyncio.run(_stages(files[: args.analyse], Path(work)))
    print(f"ingest stages, mean seconds per track over {args.analyse} tracks of {args.seconds:g} s:")
    for stage, seconds in stages.items():
        print(f"  {stage:<16} {seconds * 1000:9.1f} ms")
    return 0 if ratio >= 0.8 else 1


if __name__ == "__main__":
    raise SystemExit(main())

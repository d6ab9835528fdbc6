"""Ingest benchmark: pool hashing+storing vs plain hashlib+write, and per-stage ingest times.

    .venv/bin/python bench/ingest.py [--tracks 200] [--seconds 60] [--analyse 40]

1. Generates ``--tracks`` MP3s (~1 MB each at 60 s): eight seeded ffmpeg recordings, each
   copied with its own ID3 title so every file has distinct bytes (cached in /tmp).
2. Stores them with ``DiskBlobPool.put_file`` (streamed CID hashing, temp file, fsync,
   rename) and, in the same run, with a baseline that does only ``hashlib.sha256`` plus
   write + fsync of the same bytes. Prints the throughput ratio (goal >= 0.8).
3. Ingests ``--analyse`` of them through the real ``IngestService`` and prints the mean
   time per track of each stage.
4. Per-track wall time of a full ingest (``IngestService.ingest_file``: probe, the one
   decode, store, tags, C2PA, near duplicates, record) of a 60 s and a 3-minute 44.1 kHz
   stereo MP3, as a ratio to one ``ffmpeg -af ebur128=peak=true -f null -`` of the same
   file, the two run alternately in the same run (``--pairs`` of each; goal <= 1.2). CPU
   seconds (this process and its children) are shown too: on a shared, loaded machine they
   are steadier than wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mutagen.id3 import ID3, TIT2  # noqa: E402

from tests.support.audio import make_long_mp3  # noqa: E402


async def _stages(files: list[Path], data_dir: Path) -> dict[str, float]:
    from bots.runtime import open_instance
    from config import load_settings
    from core.model import Sharer

    os.environ["WAVEPOOL_DATA_DIR"] = str(data_dir)
    async with open_instance(load_settings(None)) as instance:
        ingest = instance.app.ingest
        for index, path in enumerate(files):
            await ingest.ingest_file(path, Sharer("cli", f"bench{index}", "bench"), filename=path.name)
        return {
            stage: ingest.stage_seconds[stage] / max(1, ingest.stage_counts[stage]) for stage in ingest.stage_seconds
        }


def _cpu() -> float:
    """CPU seconds of this process and of its finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _floor(path: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one ``ffmpeg -af ebur128=peak=true -f null -`` of ``path``."""
    cpu, started = _cpu(), time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        check=True,
        timeout=600,
    )
    return time.perf_counter() - started, _cpu() - cpu


async def _versus_floor(files: list[Path], data_dir: Path) -> list[tuple[float, float, float, float]]:
    """(ingest wall, floor wall, ingest CPU, floor CPU) per file, ingest and floor alternating."""
    from bots.runtime import open_instance
    from config import load_settings
    from core.model import Sharer

    os.environ["WAVEPOOL_DATA_DIR"] = str(data_dir)
    rows = []
    async with open_instance(load_settings(None)) as instance:
        ingest = instance.app.ingest
        for index, path in enumerate(files):
            floor_wall, floor_cpu = await asyncio.to_thread(_floor, path)
            cpu, started = _cpu(), time.perf_counter()
            await ingest.ingest_file(path, Sharer("cli", f"full{index}", "bench"), filename=path.name)
            rows.append((time.perf_counter() - started, floor_wall, _cpu() - cpu, floor_cpu))
    return rows


def _distinct_copies(base: Path, folder: Path, count: int, tag: str) -> list[Path]:
    """``count`` copies of ``base`` that differ only in their ID3 title (distinct CIDs)."""
    out = []
    for index in range(count):
        path = folder / f"{tag}-{index:03d}.mp3"
        if not path.exists():
            shutil.copyfile(base, path)
            tags = ID3()
            tags.add(TIT2(encoding=3, text=f"{tag} {index}"))
            tags.save(str(path))
        out.append(path)
    return out


def full_ingest_ratios(pairs: int) -> bool:
    """Print the full-ingest / ebur128 ratios for 60 s and 3-minute MP3s; True when the goal holds."""
    cache = Path(tempfile.gettempdir()) / "wavepool-bench-full"
    cache.mkdir(exist_ok=True)
    met = True
    print(f"full ingest per track vs one ffmpeg ebur128=peak=true pass of the same file ({pairs} pairs, medians):")
    for seconds in (60, 180):
        base = cache / f"base{seconds}.mp3"
        if not base.exists():
            make_long_mp3(base, seconds=seconds, seed=seconds)
        files = _distinct_copies(base, cache, pairs + 1, f"full{seconds}")
        with tempfile.TemporaryDirectory() as work:
            rows = asyncio.run(_versus_floor(files, Path(work)))[1:]  # the first pair warms caches
        wall = statistics.median(r[0] / r[1] for r in rows)
        cpu = statistics.median(r[2] / r[3] for r in rows)
        met = met and wall <= 1.2
        print(
            f"  {seconds:3d} s MP3: ingest {statistics.median(r[0] for r in rows) * 1000:7.0f} ms wall, "
            f"floor {statistics.median(r[1] for r in rows) * 1000:7.0f} ms; ratio wall {wall:4.2f} "
            f"(goal <= 1.2: {'met' if wall <= 1.2 else 'NOT met'}), CPU {cpu:4.2f} "
            f"({statistics.median(r[2] for r in rows) * 1000:.0f} / {statistics.median(r[3] for r in rows) * 1000:.0f}"
            f" ms)"
        )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--analyse", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3, help="repetitions of the storing comparison")
    parser.add_argument("--pairs", type=int, default=5, help="ingest/ebur128 pairs per file length")
    parser.add_argument("--only", choices=("store", "stages", "full"), help="run one part only")
    args = parser.parse_args()
    ok = True
    if args.only in (None, "store", "stages"):
        files = _track_files(args.tracks, args.seconds)
    if args.only in (None, "store"):
        ok = store_ratio(files, args.rounds) and ok
    if args.only in (None, "stages"):
        with tempfile.TemporaryDirectory() as work:
            stages = asyncio.run(_stages(files[: args.analyse], Path(work)))
        print(f"ingest stages, mean seconds per track over {args.analyse} tracks of {args.seconds:g} s:")
        for stage, seconds in stages.items():
            print(f"  {stage:<16} {seconds * 1000:9.1f} ms")
    if args.only in (None, "full"):
        ok = full_ingest_ratios(args.pairs) and ok
    return 0 if ok else 1


def _track_files(tracks: int, seconds: float) -> list[Path]:
    """``tracks`` MP3s of ``seconds`` (eight recordings, each copy with its own tags), cached."""
    cache = Path(tempfile.gettempdir()) / f"wavepool-bench-{tracks}x{seconds:g}"
    cache.mkdir(exist_ok=True)
    files = []
    bases = []
    for seed in range(8):  # eight distinct recordings; each track is one of them with its own tags
        base = cache / f"base{seed}.mp3"
        if not base.exists():
            make_long_mp3(base, seconds=seconds, seed=seed)
        bases.append(base)
    for index in range(tracks):
        path = cache / f"track{index:04d}.mp3"
        if not path.exists():
            shutil.copyfile(bases[index % len(bases)], path)
            tags = ID3()
            tags.add(TIT2(encoding=3, text=f"Bench track {index}"))
            tags.save(str(path))
        files.append(path)
    return files


def _write_one(path: Path, target: Path) -> None:
    """sha256 + write + fsync of one file (1 MiB reads): the baseline."""
    digest = hashlib.sha256()
    with path.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    digest.hexdigest()


async def _alternating(files: list[Path], work: Path) -> tuple[float, float]:
    """(baseline s, pool s) over every file, the two alternating file by file (load drifts cancel)."""
    from storage.blob_pool import DiskBlobPool

    pool = DiskBlobPool(work / "pool")
    base_dir = work / "baseline"
    base_dir.mkdir()
    base_s = pool_s = 0.0
    for index, path in enumerate(files):
        started = time.perf_counter()
        _write_one(path, base_dir / f"{index}.bin")
        base_s += time.perf_counter() - started
        started = time.perf_counter()
        await pool.put_file(path)
        pool_s += time.perf_counter() - started
    return base_s, pool_s


def store_ratio(files: list[Path], rounds: int) -> bool:
    """Print pool storing vs sha256 + write + fsync; True when the ratio goal (>= 0.9) holds."""
    total = sum(p.stat().st_size for p in files)
    ratios, pool_rates, base_rates = [], [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as work:
            base_s, pool_s = asyncio.run(_alternating(files, Path(work)))
        base_rates.append(total / base_s / 1e6)
        pool_rates.append(total / pool_s / 1e6)
        ratios.append(base_s / pool_s)
    print(f"{len(files)} tracks, {total / 1e6:.1f} MB, stored alternately file by file")
    print(f"baseline sha256+write+fsync: {statistics.median(base_rates):8.1f} MB/s (median of {rounds})")
    print(f"DiskBlobPool.put_file:       {statistics.median(pool_rates):8.1f} MB/s")
    ratio = statistics.median(ratios)
    print(
        f"ratio pool/baseline:         {ratio:8.2f}  (goal >= 0.90: {'met' if ratio >= 0.9 else 'NOT met'}; "
        f"spread {min(ratios):.2f}-{max(ratios):.2f})"
    )
    return ratio >= 0.9


if __name__ == "__main__":
    raise SystemExit(main())

"""Near-duplicate index benchmark: lookup, insert and delete times and recall at 10k / 100k / 1M tracks.

    .venv/bin/pip install numpy   # the synthetic build only (see below); the index itself does not use it
    .venv/bin/python bench/near_dup.py [--sizes 10000,100000,1000000] [--queries 300] [--out bench/out/near_dup]

1. Real fingerprints (``bench/near_dup_corpus.py``): 64 generated recordings through
   fpcalc, 16 of them also re-encoded eight ways (MP3 96/320 kb/s, AAC, Opus, trims of
   1 and 2 s, +-6 dB). Cached.
2. Error models: each real re-encode, aligned with its original, gives its offset and its
   item-by-item bit differences (128 real patterns of bit errors).
3. Synthetic tracks (two minutes, 960 items, like a real track's indexed window): eight
   segments of real fingerprints at random positions, XORed with a per-track random mask
   (so tracks are distinct: ~0.5 similar to each other, like unrelated recordings, while
   keeping real Chromaprint structure from item to item). The index is built in bulk with
   numpy (the same band keys as ``core.near_dup``, checked on a sample) and cached.
4. Measured through the real ``SqliteNearDuplicateIndex`` on the built file:
   * lookup: ``candidates()`` for re-encodes of indexed tracks (an indexed track with a
     real error pattern applied, trimmed by its offset); p50/p99, and lookup plus
     scoring (``score_candidates``, what ingest does);
   * recall: share of those queries whose source track scores >= 0.85;
   * false matches: queries of synthetic tracks that are not indexed; any match counts;
   * insert and delete of single tracks (``add`` / ``remove``) p50/p99; inserts also
     "after lookup": the track looked up first, as ingest does (its lookup prefetches the
     band leaves the insert writes);
   * baseline: a primary-key point read of one track in the same file, same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.near_dup_corpus import real_corpus  # noqa: E402
from core.fingerprint import similarity  # noqa: E402
from core.model import Fingerprint, TrackId  # noqa: E402
from core.near_dup import BANDS, INDEXED_ITEMS, KEY_VERSION, LOW_BITS, band_keys  # noqa: E402
from core.services.near_duplicates import score_candidates  # noqa: E402
from storage.sqlite import near_dup_index  # noqa: E402
from storage.sqlite.database import Database  # noqa: E402
from storage.sqlite.near_dup_index import STORED_ITEMS, SqliteNearDuplicateIndex, band_table  # noqa: E402

SEGMENTS = 8
SEGMENT_ITEMS = INDEXED_ITEMS // SEGMENTS  # 120 (15 s)
THRESHOLD = 0.85
CHUNK = 20_000
M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


# --- synthetic corpus ---------------------------------------------------------------------


class Synth:
    """Deterministic synthetic tracks from real fingerprints (track ``j`` is the same in every run)."""

    def __init__(self, bases: list[list[int]], seed: int = 12) -> None:
        length = min(len(b) for b in bases)
        assert length >= SEGMENT_ITEMS, "real fingerprints too short"
        self.matrix = np.array([b[:length] for b in bases], dtype=np.uint32)
        self.length = length
        self.seed = seed

    def tracks(self, start: int, count: int) -> np.ndarray:
        """Rows ``start .. start+count`` as uint32 items (count x 960)."""
        rng = np.random.default_rng([self.seed, start, count])
        which = rng.integers(0, self.matrix.shape[0], size=(count, SEGMENTS))
        where = rng.integers(0, self.length - SEGMENT_ITEMS + 1, size=(count, SEGMENTS))
        cols = where[:, :, None] + np.arange(SEGMENT_ITEMS)[None, None, :]
        items = self.matrix[which[:, :, None], cols].reshape(count, INDEXED_ITEMS)
        masks = rng.integers(0, 2**32, size=(count, 1), dtype=np.uint64).astype(np.uint32)
        return items ^ masks


def _np_hash(shingles: np.ndarray) -> np.ndarray:
    """``core.near_dup._hash`` on uint64 arrays (multiplications wrap mod 2**64 as there)."""
    with np.errstate(over="ignore"):
        mixed = shingles * np.uint64(0x9E3779B97F4A7C15)
        mixed ^= mixed >> np.uint64(32)
    return mixed >> np.uint64(1)


def np_band_keys(items: np.ndarray, count: int = BANDS) -> np.ndarray:
    """``core.near_dup.band_keys`` for every row; missing keys are 2**64-1."""
    coarse = items.astype(np.uint64) >> np.uint64(LOW_BITS)
    hashed = np.sort(_np_hash(coarse), axis=1)
    n = hashed.shape[1]
    first = np.ones_like(hashed, dtype=bool)
    first[:, 1:] = hashed[:, 1:] != hashed[:, :-1]
    # a run of three or more equal values is a value repeated inside the track: left out
    triple = np.zeros_like(first)
    triple[:, : n - 2] = (hashed[:, 1 : n - 1] == hashed[:, : n - 2]) & (hashed[:, 2:] == hashed[:, : n - 2])
    kept = np.where(first & ~triple, hashed, M64)
    return np.sort(kept, axis=1)[:, :count]


# --- error models -----------------------------------------------------------------------


def error_models(corpus: list[dict[str, list[int]]]) -> list[tuple[str, int, list[int]]]:
    """(variant, offset, item bit differences) of every real re-encode against its original."""
    models = []
    for entry in corpus:
        base = entry["base"]
        for name, values in entry.items():
            if name == "base":
                continue
            best, best_offset = -1.0, 0
            for offset in range(0, 40):  # trims shift forward by up to ~2 s (16 items)
                score = similarity(base[offset:], values, max_offset=0)
                if score > best:
                    best, best_offset = score, offset
            length = min(len(base) - best_offset, len(values))
            diffs = [(base[best_offset + i] ^ values[i]) & 0xFFFFFFFF for i in range(length)]
            models.append((name, best_offset, diffs))
    return models


def reencode(track: np.ndarray, model: tuple[str, int, list[int]]) -> list[int]:
    """A synthetic track as that real re-encode would turn it: trimmed by the offset, its bit errors applied."""
    _name, offset, diffs = model
    values = [int(v) for v in track[offset:]]
    return [v ^ diffs[i % len(diffs)] for i, v in enumerate(values)]


# --- bulk build ---------------------------------------------------------------------------


async def _schema(path: Path) -> None:
    db = await Database.open(path)
    await db.close()


def build(path: Path, synth: Synth, size: int) -> float:
    """Create the index file for ``size`` tracks (cached); seconds spent."""
    if path.exists():
        return 0.0
    started = time.perf_counter()
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    asyncio.run(_schema(tmp))
    conn = sqlite3.connect(tmp, isolation_level=None)
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
        conn.execute(f"PRAGMA {pragma}")
    all_bands: list[np.ndarray] = []
    all_docs: list[np.ndarray] = []
    for start in range(0, size, CHUNK):
        count = min(CHUNK, size - start)
        items = synth.tracks(start, CHUNK)[:count]  # whole chunks: track j is the same at every size
        bands = np_band_keys(items)
        if start == 0:  # the bulk path must give exactly the keys the real index computes
            for row in range(50):
                assert [int(b) for b in bands[row] if b != M64] == band_keys([int(v) for v in items[row]])
        docs = np.arange(start + 1, start + count + 1, dtype=np.int64)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO near_dup_docs(doc, track_id, duration_s, vals) VALUES (?, ?, ?, ?)",
            (
                (int(d), f"s{int(d) - 1}", 120.0, items[i][:STORED_ITEMS].astype("=u4").tobytes())
                for i, d in enumerate(docs)
            ),
        )
        conn.execute("COMMIT")
        valid = bands != M64
        all_bands.append(bands[valid].astype(np.int64))
        all_docs.append(np.broadcast_to(docs[:, None], bands.shape)[valid])
        print(f"  {start + count:>9,} tracks generated", end="\r", flush=True)
    bands_flat = np.concatenate(all_bands)
    docs_flat = np.concatenate(all_docs)
    order = np.lexsort((docs_flat, bands_flat))
    bands_flat, docs_flat = bands_flat[order], docs_flat[order]
    for start in range(0, len(bands_flat), 2_000_000):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT OR IGNORE INTO near_dup_bands(band, doc) VALUES (?, ?)",
            zip(
                bands_flat[start : start + 2_000_000].tolist(),
                docs_flat[start : start + 2_000_000].tolist(),
                strict=True,
            ),
        )
        conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()
    tmp.rename(path)
    return time.perf_counter() - started


# --- measurements -------------------------------------------------------------------------


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def rss_mib() -> float:
    """This process's resident memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def drop_page_cache() -> None:
    """Empty the kernel's page cache (root only): every file page read after this is a disk read."""
    subprocess.run(["sync"], check=True, timeout=600)
    Path("/proc/sys/vm/drop_caches").write_text("1\n")


async def measure(
    path: Path,
    synth: Synth,
    size: int,
    models: list[tuple[str, int, list[int]]],
    queries: int,
    mmap_mb: int = 0,
    warm: bool = False,
    idle_s: float = 0.0,
    drop_caches: bool = False,
) -> dict[str, float]:
    """Lookup/insert/delete times, recall and false matches on a built index.

    ``warm``: load the band table into memory first, as an instance does at start-up
    (``bots.runtime.catch_up_near_dup_index``). ``drop_caches``: then empty the page cache,
    so fingerprint copies and the inserts' and deletes' B-tree pages are disk reads.
    ``idle_s``: then wait, so a kernel that pages out idle file pages has done so.
    """
    # Every query is made before anything is timed (and before the caches are dropped or the
    # idle wait): making one costs ~100 ms of numpy and hundreds of MB of short-lived memory,
    # which showed up in the timings when it ran between lookups (a point read's p99 of 30 ms).
    reencodes = _reencode_queries(synth, size, models, queries, random.Random(size))
    fresh = [Fingerprint(tuple(int(v) for v in row), 120.0) for row in synth.tracks(10_000_000 + size, queries)]
    new = [Fingerprint(tuple(int(v) for v in row), 120.0) for row in synth.tracks(20_000_000 + size, 100)]
    new_after_lookup = [Fingerprint(tuple(int(v) for v in row), 120.0) for row in synth.tracks(30_000_000 + size, 100)]
    # old tracks to delete (and put back afterwards, so the cached file stays the same corpus)
    old = [(j, fp) for j, _, fp in _reencode_queries(synth, size, [("none", 0, [0])], 100, random.Random(size + 1))]
    _CHUNKS.clear()
    if drop_caches:
        drop_page_cache()
    db = await Database.open(path)
    if mmap_mb:  # what an instance could set: reads through the OS page cache, no copies
        await db.fetchall(f"PRAGMA mmap_size={mmap_mb * 2**20}")
    index = SqliteNearDuplicateIndex(db)
    await index.sweep()  # rows a previous run's deletes left: not swept while this one measures
    loaded: dict[str, float] = {}
    if warm:
        lags: list[float] = []

        async def sample_loop_lag() -> None:  # what the instance's other work sees during the load
            while True:
                t0 = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - t0 - 0.005)

        sampler = asyncio.create_task(sample_loop_lag())
        rss_before, t0 = rss_mib(), time.perf_counter()
        rows = await index.warm()
        load_s = time.perf_counter() - t0
        sampler.cancel()
        loaded = {
            "load_s": load_s,
            "load_loop_lag_p50_ms": _pct(lags or [0.0], 0.5) * 1000,
            "load_loop_lag_p99_ms": _pct(lags or [0.0], 0.99) * 1000,
            "table_mib": band_table(db).nbytes() / 2**20,
            "rss_delta_mib": rss_mib() - rss_before,
        }
        print(f"  loaded {rows:,} band rows in {loaded['load_s']:.1f} s ({loaded['table_mib']:.0f} MiB of arrays)")
    if drop_caches:
        drop_page_cache()
    if idle_s:
        print(f"  idle {idle_s:.0f} s")
        await asyncio.sleep(min(idle_s, 900.0))  # bounded: the point is the kernel's reclaim, not waiting
    try:
        lookup, match, baseline = [], [], []
        found = 0
        per_variant: dict[str, list[int]] = {}
        for j, variant, query in reencodes:
            t0 = time.perf_counter()
            candidates = await index.candidates(query)
            t1 = time.perf_counter()
            scored = await score_candidates(query, [(c.track_id, c.fingerprint) for c in candidates], THRESHOLD)
            t2 = time.perf_counter()
            await db.fetchone("SELECT doc, duration_s FROM near_dup_docs WHERE track_id = ?", (f"s{j}",))
            t3 = time.perf_counter()
            lookup.append(t1 - t0)
            match.append(t2 - t0)
            baseline.append(t3 - t2)
            hit = any(track == f"s{j}" for track, _ in scored)
            found += hit
            per_variant.setdefault(variant, []).append(int(hit))
        false_matches = 0
        new_lookup: list[float] = []
        for query in fresh:  # a new track (most shares): nothing should match, no fingerprint copy is read
            t0 = time.perf_counter()
            candidates = await index.candidates(query)
            new_lookup.append(time.perf_counter() - t0)
            scored = await score_candidates(query, [(c.track_id, c.fingerprint) for c in candidates], THRESHOLD)
            false_matches += len(scored)
        inserts, inserts_after_lookup, deletes = [], [], []
        for number, fp in enumerate(new):
            t0 = time.perf_counter()
            await index.add(TrackId(f"new{number}"), fp)
            inserts.append(time.perf_counter() - t0)
        for number, fp in enumerate(new_after_lookup):
            # ingest's order: the lookup, seconds of analysis, then the insert; the lookup's
            # prefetch of the insert's band leaves has finished by then (waited for here)
            done = near_dup_index.prefetches_done
            await index.candidates(fp)
            for _ in range(5000):
                if near_dup_index.prefetches_done > done or not band_table(db).ready:
                    break
                await asyncio.sleep(0.002)
            t0 = time.perf_counter()
            await index.add(TrackId(f"new{number + len(new)}"), fp)
            inserts_after_lookup.append(time.perf_counter() - t0)
        for number in range(len(new) + len(new_after_lookup)):
            t0 = time.perf_counter()
            await index.remove(TrackId(f"new{number}"))
            deletes.append(time.perf_counter() - t0)
        old_deletes = []
        for j, _fp in old:  # a takedown: a track indexed long ago, its pages cold
            t0 = time.perf_counter()
            await index.remove(TrackId(f"s{j}"))
            old_deletes.append(time.perf_counter() - t0)
        for j, fp in old:
            await index.add(TrackId(f"s{j}"), fp)
        await index.sweep()
        ms = 1000.0
        result = {
            "lookup_p50_ms": _pct(lookup, 0.5) * ms,
            "lookup_p99_ms": _pct(lookup, 0.99) * ms,
            "new_lookup_p50_ms": _pct(new_lookup, 0.5) * ms,
            "new_lookup_p99_ms": _pct(new_lookup, 0.99) * ms,
            "match_p50_ms": _pct(match, 0.5) * ms,
            "match_p99_ms": _pct(match, 0.99) * ms,
            "baseline_p50_ms": _pct(baseline, 0.5) * ms,
            "baseline_p99_ms": _pct(baseline, 0.99) * ms,
            "insert_p50_ms": _pct(inserts, 0.5) * ms,
            "insert_p99_ms": _pct(inserts, 0.99) * ms,
            "insert_after_lookup_p50_ms": _pct(inserts_after_lookup, 0.5) * ms,
            "insert_after_lookup_p99_ms": _pct(inserts_after_lookup, 0.99) * ms,
            "delete_p50_ms": _pct(deletes, 0.5) * ms,
            "delete_p99_ms": _pct(deletes, 0.99) * ms,
            "delete_old_p50_ms": _pct(old_deletes, 0.5) * ms,
            "delete_old_p99_ms": _pct(old_deletes, 0.99) * ms,
            "recall": found / queries,
            "false_matches": float(false_matches),
            **loaded,
            "rss_mib": rss_mib(),
        }
        for name, hits in sorted(per_variant.items()):
            result[f"recall[{name}]"] = statistics.fmean(hits)
        return result
    finally:
        index.close()
        await db.close()


_CHUNKS: dict[int, np.ndarray] = {}


def _reencode_queries(
    synth: Synth, size: int, models: list[tuple[str, int, list[int]]], count: int, rng: random.Random
) -> list[tuple[int, str, Fingerprint]]:
    """``count`` re-encodes of random indexed tracks: (track number, re-encode kind, query), in pick order."""
    picks = [(rng.randrange(size), rng.choice(models)) for _ in range(count)]
    made: dict[int, Fingerprint] = {}
    for at in sorted(range(count), key=lambda n: picks[n][0]):  # a chunk of tracks is made once
        j, model = picks[at]
        made[at] = Fingerprint(tuple(reencode(_cached_chunk(synth, j - j % CHUNK)[j % CHUNK], model)), 120.0)
    return [(j, model[0], made[at]) for at, (j, model) in enumerate(picks)]


def _cached_chunk(synth: Synth, start: int) -> np.ndarray:
    """The generated chunk holding track ``start`` (tracks are generated a chunk at a time)."""
    if start not in _CHUNKS:
        if len(_CHUNKS) > 8:
            _CHUNKS.clear()
        _CHUNKS[start] = synth.tracks(start, CHUNK)
    return _CHUNKS[start]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path("bench/out/near_dup"))
    parser.add_argument("--mmap-mb", type=int, default=0, help="PRAGMA mmap_size for the measuring connection")
    parser.add_argument(
        "--cold", action="store_true", help="skip the start-up load of the band table: lookups in SQLite"
    )
    parser.add_argument("--idle", type=float, default=0.0, help="seconds to wait after the load (at most 900)")
    parser.add_argument("--drop-caches", action="store_true", help="empty the page cache before and after the load")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    corpus = real_corpus(args.out)
    models = error_models([c for c in corpus if len(c) > 1])
    real_recall = statistics.fmean(
        similarity(c["base"], v) >= THRESHOLD for c in corpus if len(c) > 1 for k, v in c.items() if k != "base"
    )
    print(
        f"real corpus: {len(corpus)} recordings, {len(models)} real re-encodes "
        f"(similarity >= {THRESHOLD} for {real_recall:.0%} of them)"
    )
    synth = Synth([c["base"] for c in corpus])
    for size in (int(s) for s in args.sizes.split(",")):
        path = args.out / f"index_{size}_v{KEY_VERSION}_b{BANDS}_l{LOW_BITS}.sqlite3"
        seconds = build(path, synth, size)
        if seconds:
            print(f"built {size:,} tracks in {seconds:.0f} s ({path.stat().st_size / 2**20:.0f} MiB)")
        load_average = os.getloadavg()[0]
        result = asyncio.run(
            measure(
                path,
                synth,
                size,
                models,
                args.queries,
                args.mmap_mb,
                warm=not args.cold,
                idle_s=args.idle,
                drop_caches=args.drop_caches,
            )
        )
        result["load_average"] = max(load_average, os.getloadavg()[0])
        print(
            f"{size:>9,} tracks: "
            + ", ".join(
                f"{k} {v:.3f}" if isinstance(v, float) and v < 10 else f"{k} {v:.1f}" for k, v in result.items()
            )
        )


if __name__ == "__main__":
    main()

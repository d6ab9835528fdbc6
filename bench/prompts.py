"""Prompt search latency at 1,000,000 prompts: our repository vs the raw FTS5 query.

    .venv/bin/python bench/prompts.py [--rows 1000000] [--queries 400] [--dir DIR] [--rebuild]

Builds once (cached as DIR/wavepool-prompts-<rows>-v2.sqlite3, DIR defaulting to the
system temp dir; reused only when the build finished) a library of ~200-character
synthetic prompts through the real schema (migrations, FTS5 triggers): seeded random words
from a genre/mood/instrument vocabulary plus 30,000 generated rarer words, drawn with a
Zipf-like distribution (weight 1/rank^1.07). Then runs the same 1-3 word queries, a quarter
each of common words, rare words, mixed, and mixed with the last word cut to a 3-8 letter
prefix (type-ahead), through

* ``SqlitePromptRepository.search(text, 10)`` — the whole call: query building, ranking,
  loading the entries with their tracks and votes;
* raw FTS5, the track search's form: ``"w1" "w2"*`` (``storage.sqlite.fts_query``)
  ``MATCH ... ORDER BY bm25 LIMIT 10``;
* raw FTS5, our match set: the repository's own expanded query ``ORDER BY bm25, rowid DESC
  LIMIT 10`` (exact ranking of the same matches with our tie-break; its top 10 is the
  reference for ``overlap@10``, the share of the exact top 10 that our search returns).

All on one aiosqlite connection, interleaved, after a warm-up. Prints p50/p95/p99 (ms)
overall and per query class. Exit status 1 unless our p99 < 50 ms and <= 1.5x the faster
raw p99.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.sqlite import prompt_repository  # noqa: E402
from storage.sqlite.database import Database  # noqa: E402
from storage.sqlite.fts_query import fts_query  # noqa: E402
from storage.sqlite.prompt_repository import SqlitePromptRepository  # noqa: E402

FORMAT = 2  # bump when the generated data changes
GENRES = (
    "synthwave lofi ambient techno house trance dubstep drill trap boombap jazz blues soul funk disco "
    "rock metal punk grunge shoegaze dreampop hyperpop vaporwave chillwave outrun darkwave ebm idm "
    "orchestral cinematic folk country bluegrass reggae dub ska afrobeat amapiano baile kpop jpop "
    "citypop gospel opera bossa samba tango flamenco celtic drone noise glitch"
).split()
MOODS = (
    "dreamy dark melancholic euphoric nostalgic aggressive calm tense hopeful bittersweet warm cold "
    "lush sparse gritty shimmering hazy epic intimate playful haunting uplifting brooding"
).split()
THINGS = (
    "synth bass drums pads strings piano guitar vocals choir arpeggio 808 kick snare hihat vinyl "
    "crackle tape reverb delay sidechain bpm minor major key tempo bridge chorus verse hook "
    "female male whisper falsetto rap spoken sunset night neon city rain ocean desert forest space "
    "retro future memories summer winter highway midnight dawn with and the of in a slow fast"
).split()
SYLLABLES = (
    "ka lo mi ra zen tor vex qua lin dro sa nu bel cor dim fa gol hu ix jo ki lum mor ny "
    "pel ros sti tra ul vin wa xe yo zu"
).split()
GENERATED = 30_000


def vocabulary() -> tuple[list[str], list[float]]:
    """Distinct words, most common first, and their cumulative Zipf-like weights."""
    rng = random.Random(42)
    real = GENRES + MOODS + THINGS
    rng.shuffle(real)
    seen = set(real)
    extra: list[str] = []
    while len(extra) < GENERATED:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            extra.append(word)
    words = real + extra  # real words take the common ranks
    total, cumulative = 0.0, []
    for rank in range(len(words)):
        total += 1.0 / (rank + 1) ** 1.07
        cumulative.append(total)
    return words, cumulative


def prompt_row(rng: random.Random, words: list[str], cumulative: list[float], index: int) -> tuple[str, str]:
    """One generated prompt: its id and a text of up to ~190 characters drawn from the vocabulary."""
    text, count = [], 0
    for word in rng.choices(words, cum_weights=cumulative, k=40):
        if count >= 190:
            break
        text.append(word)
        count += len(word) + 1
    body = " ".join(text)
    return hashlib.sha256(f"prompt\x00{index}\x00{body}".encode()).hexdigest()[:16], body


def db_path(directory: Path, rows: int) -> Path:
    return directory / f"wavepool-prompts-{rows}-v{FORMAT}.sqlite3"


def build(path: Path, rows: int) -> None:
    """Create the schema with the real migrations, bulk-insert prompts, mark complete."""
    partial = path.with_suffix(".partial")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    asyncio.run(_open_close(partial))
    rng = random.Random(42)
    words, cumulative = vocabulary()
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA synchronous=OFF")
    sql = "INSERT OR IGNORE INTO prompts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    batch = []
    for index in range(rows):
        pid, body = prompt_row(rng, words, cumulative, index)
        batch.append((pid, body, "prompt", "suno", "{}", None, None, None, "2026-11-01T00:00:00+00:00"))
        if len(batch) == 20000:
            conn.executemany(sql, batch)
            conn.commit()
            batch.clear()
    if batch:
        conn.executemany(sql, batch)
    conn.commit()
    conn.execute("INSERT INTO prompts_fts(prompts_fts) VALUES ('optimize')")
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    asyncio.run(_finish(partial, rows))
    os.replace(partial, path)


async def _open_close(path: Path) -> None:
    db = await Database.open(path)
    await db.close()


async def _finish(path: Path, rows: int) -> None:
    db = await Database.open(path)
    await SqlitePromptRepository(db).rebuild_terms()
    await db.execute("CREATE TABLE bench_complete (rows INTEGER NOT NULL, format INTEGER NOT NULL)")
    await db.execute("INSERT INTO bench_complete VALUES (?, ?)", (rows, FORMAT))
    await db.fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
    await db.close()


def complete(path: Path, rows: int) -> bool:
    """Whether a cached database finished building with this data format."""
    if not path.exists():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT rows, format FROM bench_complete").fetchone() == (rows, FORMAT)
    except sqlite3.Error:
        return False


CLASSES = ("common", "rare", "mixed", "prefix")


def queries(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """(class, text): 1-3 words; common = 60 most frequent words, rare = ranks 2,000-30,000."""
    rng = random.Random(seed)
    words, _ = vocabulary()
    common, rare = words[:60], words[2000:]
    out = []
    for index in range(count):
        kind = CLASSES[index % 4]
        size = rng.randint(1, 3)
        pool = common if kind == "common" else rare if kind == "rare" else common + words[60:2000] + rare
        picked = [rng.choice(pool) for _ in range(size)]
        if kind == "prefix":
            last = picked[-1] if len(picked[-1]) > 3 else rng.choice(common[:30] + rare)
            picked[-1] = last[: rng.randint(3, min(8, len(last)))]
        out.append((kind, " ".join(picked)))
    return out


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 in milliseconds (nearest rank)."""
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))] * 1000

    return statistics.median(ordered) * 1000, at(0.95), at(0.99)


WARM = True  # --no-warm: rank with bm25() only, as before the in-memory scores load
RAW = (
    "SELECT p.id FROM prompts_fts f JOIN prompts p ON p.rowid = f.rowid"
    " WHERE prompts_fts MATCH ? ORDER BY bm25(prompts_fts) LIMIT 10"
)


async def measure(path: Path, texts: list[tuple[str, str]]) -> dict[str, list[tuple[str, float]]]:
    """Latency of each query: ours, raw prefix form, raw over our match set; and overlap@10."""
    db = await Database.open(path)
    repo = SqlitePromptRepository(db)
    if WARM:  # as a running instance after its start-up work (storage/sqlite/prompt_scores.py)
        started = time.perf_counter()
        loaded = await repo.warm()
        print(f"prompt scores: {loaded:,} prompts loaded in {time.perf_counter() - started:.1f} s")
    out: dict[str, list[tuple[str, float]]] = {"ours": [], "raw_prefix": [], "raw_same": [], "overlap": []}
    for _kind, text in texts[:40]:  # warm the page cache for all three
        await repo.search(text, 10)
        await db.fetchall(RAW, (fts_query(text),))
    for kind, text in texts:
        started = time.perf_counter()
        found = await repo.search(text, 10)
        out["ours"].append((kind, time.perf_counter() - started))
        started = time.perf_counter()
        await db.fetchall(RAW, (fts_query(text),))
        out["raw_prefix"].append((kind, time.perf_counter() - started))
        ours_query = await repo.fts_query(text)
        started = time.perf_counter()
        exact = await db.fetchall(RAW.replace("LIMIT", ", f.rowid DESC LIMIT"), (ours_query,))
        out["raw_same"].append((kind, time.perf_counter() - started))
        reference = {r[0] for r in exact}
        if reference:
            out["overlap"].append((kind, len(reference & {p.id for p in found}) / len(reference)))
    await db.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--rebuild", action="store_true", help="build the database even if cached")
    parser.add_argument("--db", type=Path, help="measure this existing library instead (e.g. bench/scale.py's)")
    parser.add_argument(
        "--candidates",
        type=int,
        default=prompt_repository.CANDIDATES,
        help="matches the repository ranks per query (a tuning experiment)",
    )
    parser.add_argument("--no-warm", action="store_true", help="skip the repository's warm(): bm25() ranks")
    args = parser.parse_args()
    prompt_repository.CANDIDATES = args.candidates
    global WARM
    WARM = not args.no_warm
    path = args.db or db_path(args.dir, args.rows)
    if args.db:
        print(f"measuring {path}")
    elif args.rebuild or not complete(path, args.rows):
        started = time.perf_counter()
        build(path, args.rows)
        print(
            f"built {args.rows:,} prompts in {time.perf_counter() - started:.0f} s ({path}, "
            f"{path.stat().st_size / 1e6:.0f} MB)"
        )
    else:
        print(f"reusing {path}")
    texts = queries(args.queries)
    results = asyncio.run(measure(path, texts))
    print(
        f"{args.rows:,} prompts, {len(texts)} queries of 1-3 words ({', '.join(CLASSES)}: a quarter each);"
        f" repository ranks {args.candidates} candidates"
    )
    print(f"{'':34}{'p50':>8}{'p95':>8}{'p99':>8}  (ms)")
    summary: dict[str, list[float]] = {}
    labels = {
        "ours": "repository search (whole call)",
        "raw_prefix": 'raw: "w1" "w2"* ORDER BY bm25',
        "raw_same": "raw: our match set ORDER BY bm25",
    }
    for key, label in labels.items():
        p = percentiles([s for _k, s in results[key]])
        summary[key] = list(p)
        print(f"{label:<34}{p[0]:8.1f}{p[1]:8.1f}{p[2]:8.1f}")
    print("per class, p99 ms (ours / raw prefix / raw same set), overlap@10 with exact bm25:")
    for kind in CLASSES:
        cells = [percentiles([s for k, s in results[key] if k == kind])[2] for key in labels]
        overlaps = [o for k, o in results["overlap"] if k == kind]
        mean = sum(overlaps) / len(overlaps) if overlaps else float("nan")
        print(f"  {kind:<8}{cells[0]:8.1f}{cells[1]:8.1f}{cells[2]:8.1f}   overlap {mean:.2f}")
    overall = [o for _k, o in results["overlap"]]
    ours99 = summary["ours"][2]
    raw99 = min(summary["raw_prefix"][2], summary["raw_same"][2])
    met = ours99 < 50 and ours99 <= 1.5 * raw99
    print(
        f"goal: p99 < 50 ms and <= 1.5x the faster raw p99 ({raw99:.1f} ms): "
        f"{'met' if met else 'NOT met'} (ratio {ours99 / raw99:.2f}); "
        f"mean overlap@10 {sum(overall) / max(1, len(overall)):.2f}"
    )
    print(json.dumps({"rows": args.rows, "candidates": args.candidates, **summary}))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Prompt search latency at 1,000,000 prompts: our repository vs the raw FTS5 query.

    .venv/bin/python bench/prompts.py [--rows 1000000] [--queries 300]

Builds (once, cached in /tmp) a library of ~200-character synthetic prompts drawn from a
genre/mood vocabulary with a Zipf-like word distribution, through the real schema
(migrations, triggers). Then runs the same 1-3 word queries (common and rare words) through
``SqlitePromptRepository.search`` and through the raw ``MATCH ... ORDER BY bm25 LIMIT 10``
on the same connection, and prints p50/p95/p99 of each.
Goal: our p99 < 50 ms and <= 1.5x the raw query's p99. Exits 1 when not met.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.sqlite.database import Database  # noqa: E402
from storage.sqlite.fts_query import fts_query  # noqa: E402
from storage.sqlite.prompt_repository import SqlitePromptRepository  # noqa: E402

GENRES = ("synthwave lofi ambient techno house trance dubstep drill trap boom-bap jazz blues soul funk disco "
          "rock metal punk grunge shoegaze dreampop hyperpop vaporwave chillwave outrun darkwave ebm idm "
          "orchestral cinematic folk country bluegrass reggae dub ska afrobeat amapiano baile kpop jpop "
          "citypop gospel opera bossa samba tango flamenco celtic drone noise glitch").split()
MOODS = ("dreamy dark melancholic euphoric nostalgic aggressive calm tense hopeful bittersweet warm cold "
         "lush sparse gritty shimmering hazy epic intimate playful haunting uplifting brooding").split()
THINGS = ("synth bass drums pads strings piano guitar vocals choir arpeggio 808 kick snare hihat vinyl "
          "crackle tape reverb delay chorus sidechain bpm minor major key tempo bridge chorus verse hook "
          "female male whisper falsetto rap spoken sunset night neon city rain ocean desert forest space "
          "retro future memories summer winter highway midnight dawn").split()


def vocabulary(rng: random.Random) -> tuple[list[str], list[float]]:
    """Real words plus generated rare ones; Zipf-like cumulative weights."""
    words = GENRES + MOODS + THINGS
    syllables = ["ka", "lo", "mi", "ra", "zen", "tor", "vex", "qua", "lin", "dro", "sa", "nu"]
    while len(words) < 20000:
        words.append("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    rng.shuffle(words)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(words))]
    total, cumulative = 0.0, []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return words, cumulative


def build(path: Path, rows: int) -> None:
    """Create the schema with the real migrations, then bulk-insert prompts."""
    asyncio.run(_migrate(path))
    rng = random.Random(42)
    words, cumulative = vocabulary(rng)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    batch = []
    for index in range(rows):
        text = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(24, 36)))[:220]
        pid = hashlib.sha256(f"prompt\x00{index}\x00{text}".encode()).hexdigest()[:16]
        batch.append((pid, text, "prompt", "suno", "{}", None, None, None, "2026-11-01T00:00:00+00:00"))
        if len(batch) == 20000:
            conn.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
            conn.commit()
            batch.clear()
    if batch:
        conn.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
    conn.commit()
    conn.execute("INSERT INTO prompts_fts(prompts_fts) VALUES ('optimize')")
    conn.commit()
    conn.close()


async def _migrate(path: Path) -> None:
    db = await Database.open(path)
    await db.close()


def queries(count: int, rng: random.Random) -> list[str]:
    """1-3 word queries; a third use only common words, a third rare ones, a third mixed."""
    words, _ = vocabulary(random.Random(42))
    common = (GENRES + MOODS + THINGS)[:60]
    rare = words[-5000:]
    out = []
    for index in range(count):
        size = rng.randint(1, 3)
        pool = common if index % 3 == 0 else rare if index % 3 == 1 else common + rare
        out.append(" ".join(rng.choice(pool) for _ in range(size)))
    return out


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 in milliseconds."""
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return statistics.median(ordered) * 1000, at(0.95), at(0.99)


async def measure(path: Path, texts: list[str]) -> tuple[list[float], list[float]]:
    """Latency of each query through the repository and raw, interleaved."""
    db = await Database.open(path)
    repo = SqlitePromptRepository(db)
    ours, raw = [], []
    for text in texts[:20]:  # warm the page cache for both
        await repo.search(text, 10)
    for text in texts:
        started = time.perf_counter()
        await repo.search(text, 10)
        ours.append(time.perf_counter() - started)
        query = fts_query(text)
        started = time.perf_counter()
        await db.fetchall("SELECT p.id, p.text FROM prompts_fts f JOIN prompts p ON p.rowid = f.rowid"
                          " WHERE prompts_fts MATCH ? ORDER BY bm25(prompts_fts) LIMIT 10", (query,))
        raw.append(time.perf_counter() - started)
    await db.close()
    return ours, raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    path = Path(tempfile.gettempdir()) / f"wavepool-prompts-{args.rows}.sqlite3"
    if not path.exists():
        started = time.perf_counter()
        build(path, args.rows)
        print(f"built {args.rows} prompts in {time.perf_counter() - started:.0f} s ({path})")
    texts = queries(args.queries, random.Random(7))
    ours, raw = asyncio.run(measure(path, texts))
    o50, o95, o99 = percentiles(ours)
    r50, r95, r99 = percentiles(raw)
    print(f"{args.rows} prompts, {len(texts)} queries (1-3 words; common, rare and mixed)")
    print(f"{'':24}{'p50':>9}{'p95':>9}{'p99':>9}  (ms)")
    print(f"{'repository search':<24}{o50:9.1f}{o95:9.1f}{o99:9.1f}")
    print(f"{'raw FTS5 bm25 query':<24}{r50:9.1f}{r95:9.1f}{r99:9.1f}")
    met = o99 < 50 and o99 <= 1.5 * r99
    print(f"goal p99 < 50 ms and <= 1.5x raw: {'met' if met else 'NOT met'} (ratio {o99 / r99:.2f})")
    print(json.dumps({"ours_ms": [o50, o95, o99], "raw_ms": [r50, r95, r99]}))
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())

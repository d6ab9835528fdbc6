"""Searching tracks by the sharer's display name at community size (migration 200).

Baseline, measured in the same run: rebuilding the full-text index with a ``sharer_name``
column (what the name search would cost as an FTS column). Measured: building the
``tracks_sharer_name`` index instead, and the name lookup ``search`` adds.

    .venv/bin/python bench/sharer_name_search.py [tracks]
"""

from __future__ import annotations

import random
import sqlite3
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage.sqlite.migrations import TRACKS  # noqa: E402
from storage.sqlite.schema_chat import SHARER_NAME_STATEMENTS  # noqa: E402

COLUMNS = "title, artist, prompt, style, tags, genre, sharer_name"
FTS_REBUILD = (
    "DROP TABLE tracks_fts",
    f"CREATE VIRTUAL TABLE tracks_fts USING fts5({COLUMNS}, content='tracks', content_rowid='rowid',"
    " tokenize='unicode61 remove_diacritics 2', prefix='2 3 4 5 6')",
    "INSERT INTO tracks_fts(tracks_fts) VALUES ('rebuild')",
)
LOOKUP = (
    "SELECT id FROM tracks WHERE sharer_name LIKE ? ESCAPE '\\' AND status = 'active'"
    " ORDER BY first_seen_at DESC LIMIT 10"
)


def _database(count: int) -> tuple[sqlite3.Connection, list[str]]:
    rng = random.Random(7)
    db = sqlite3.connect(":memory:")
    for statement in TRACKS.statements:
        db.execute(statement)
    columns = [r[1] for r in db.execute("PRAGMA table_info(tracks)")]
    words = ["".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(5000)]
    names = ["".join(rng.choices(string.ascii_lowercase, k=7)).capitalize() for _ in range(3000)]
    rows = []
    for i in range(count):
        row: dict[str, object] = dict.fromkeys(columns)
        row.update(
            id=f"t{i}", cid=f"c{i}", size=1, media_type="audio/mpeg", duration_s=1.0,
            title=" ".join(rng.choices(words, k=3)), prompt=" ".join(rng.choices(words, k=12)),
            sharer_platform="matrix", sharer_id=f"@u{i % 3000}", sharer_name=names[i % 3000],
            first_seen_at=f"2026-01-01T{i:08d}", origin_instance="x", verdict="declared",
            verdict_reason="r", evidence="[]", tags="", status="active",
        )  # fmt: skip
        rows.append(tuple(row[c] for c in columns))
    db.executemany(f"INSERT INTO tracks VALUES ({','.join('?' * len(columns))})", rows)
    db.commit()
    return db, names


def _timed(db: sqlite3.Connection, statements: tuple[str, ...]) -> float:
    start = time.perf_counter()
    for statement in statements:
        db.execute(statement)
    db.commit()
    return time.perf_counter() - start


def main() -> None:
    """Print the migration costs, their ratio and the lookup's latency."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    baseline_db, _ = _database(count)
    baseline = _timed(baseline_db, FTS_REBUILD)
    db, names = _database(count)
    index = _timed(db, SHARER_NAME_STATEMENTS)
    print(f"{count} tracks: FTS rebuild with sharer_name {baseline:.2f} s (baseline)")
    print(f"{count} tracks: tracks_sharer_name index {index:.2f} s ({baseline / index:.0f}x less)")
    for needle in (names[5].lower(), names[5][:2].lower(), "zz"):
        start = time.perf_counter()
        for _ in range(50):
            db.execute(LOOKUP, (needle + "%",)).fetchall()
        print(f"name lookup {needle!r}: {(time.perf_counter() - start) / 50 * 1000:.2f} ms")


if __name__ == "__main__":
    main()

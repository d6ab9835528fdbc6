"""Where a prompt search's milliseconds and page reads go, with the database's pages cold or warm.

    .venv/bin/python bench/prompts_cold.py DATABASE [--queries 80] [--warm]

DATABASE is a database with the prompt library at size (bench/scale.py's or bench/prompts.py's),
opened read-only; use a copy: ``--cold`` (the default) drops the file's pages from the kernel's
page cache (``posix_fadvise(DONTNEED)``, the file only, not the machine's) before every statement,
and every statement runs on a fresh connection, so SQLite's own cache is empty too. ``--warm``
keeps the page cache (still a fresh connection per statement).

For bench/prompts.py's queries (a quarter each common, rare, mixed, prefix) it runs the stages of
the repository's search statement one by one:

* ``walk``: the newest ``CANDIDATES`` matches, rowids only (FTS5 reads the doclists' newest parts);
* ``bm25``: the same with ``bm25()`` (adds, per query, a full pass over each phrase's doclist for
  its document count, and per candidate the ``%_docsize`` row and the phrase instances);
* ``joined first``: the statement before issue 16 (16q), which joined every candidate's
  ``prompts`` row before ranking;
* ``repository``: ``storage.sqlite.prompt_repository.ranking_sql``, the statement searches run.

Prints per stage and class p50/max ms and pages read from disk (``/proc/self/io``), and for the
common class the pages resident after each statement by table (``mincore``; readahead included).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.prompts import CLASSES, queries  # noqa: E402
from storage.sqlite.database import Database  # noqa: E402
from storage.sqlite.prompt_repository import CANDIDATES, SqlitePromptRepository, ranking_sql  # noqa: E402

PAGE = 4096
STAGES = {
    "walk": f"SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ? ORDER BY rowid DESC LIMIT {CANDIDATES}",
    "bm25": f"SELECT rowid, bm25(prompts_fts) FROM prompts_fts WHERE prompts_fts MATCH ?"
    f" ORDER BY rowid DESC LIMIT {CANDIDATES}",
    "joined first": f"SELECT p.id FROM (SELECT rowid AS r, bm25(prompts_fts) AS score FROM prompts_fts"
    f" WHERE prompts_fts MATCH ? ORDER BY rowid DESC LIMIT {CANDIDATES}) c"
    " JOIN prompts p ON p.rowid = c.r WHERE p.id != '' ORDER BY c.score, c.r DESC LIMIT 10",
    "repository": ranking_sql(CANDIDATES),
}
_libc = ctypes.CDLL("libc.so.6", use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]


def drop_pages(path: Path) -> None:
    """Drop this file's pages from the page cache (clean pages only; the copy is never written)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_bytes() -> int:
    """Bytes this process has made the kernel read from disk."""
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("read_bytes"))


def resident_pages(path: Path, owner: dict[int, str]) -> dict[str, int]:
    """Pages of the file in the page cache, by table or index (mincore)."""
    size = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    try:
        address = _libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED
        vector = (ctypes.c_ubyte * ((size + PAGE - 1) // PAGE))()
        _libc.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), vector)
        _libc.munmap(ctypes.c_void_p(address), ctypes.c_size_t(size))
    finally:
        os.close(fd)
    counts: dict[str, int] = {}
    data = bytes(vector)
    index = data.find(1)
    while index >= 0:
        name = owner.get(index + 1, "?")
        counts[name] = counts.get(name, 0) + 1
        index = data.find(1, index + 1)
    return counts


async def fts_queries(path: Path, texts: list[str]) -> list[str | None]:
    """The FTS5 query the repository builds for each text."""
    db = await Database.open(path)
    try:
        repo = SqlitePromptRepository(db)
        return [await repo.fts_query(text) for text in texts]
    finally:
        await db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", type=Path)
    parser.add_argument("--queries", type=int, default=80)
    parser.add_argument("--warm", action="store_true", help="keep the page cache (default: drop it every time)")
    args = parser.parse_args()
    uri = f"file:{args.database}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        owner = {page: name for name, page in conn.execute("SELECT name, pageno FROM dbstat")}
    texts = queries(args.queries)
    built = asyncio.run(fts_queries(args.database, [text for _kind, text in texts]))
    results: dict[str, list[tuple[str, float, int, dict[str, int]]]] = {stage: [] for stage in STAGES}
    for (kind, _text), query in zip(texts, built, strict=True):
        if query is None:
            continue
        for stage, sql in STAGES.items():
            if not args.warm:
                drop_pages(args.database)
            conn = sqlite3.connect(uri, uri=True)
            params: tuple[object, ...] = (query, 0, 10) if stage == "repository" else (query,)
            before = read_bytes()
            started = time.perf_counter()
            conn.execute(sql, params).fetchall()
            spent = (time.perf_counter() - started) * 1000
            pages = (read_bytes() - before) // PAGE
            conn.close()
            resident = resident_pages(args.database, owner) if kind == "common" and not args.warm else {}
            results[stage].append((kind, spent, pages, resident))
    print(f"{args.database}: {'warm' if args.warm else 'cold'} page cache, load average {os.getloadavg()}")
    for stage, rows in results.items():
        for kind in CLASSES:
            ms = sorted(r[1] for r in rows if r[0] == kind)
            pages = sorted(r[2] for r in rows if r[0] == kind)
            if ms:
                print(
                    f"{stage:<13}{kind:<8}n={len(ms):<4}ms p50 {statistics.median(ms):7.1f} max {ms[-1]:7.1f}"
                    f"   pages read p50 {statistics.median(pages):6.0f} max {pages[-1]:6.0f}"
                )
        common = [r[3] for r in rows if r[0] == "common"]
        if common and common[0]:
            total: dict[str, int] = {}
            for resident in common:
                for name, count in resident.items():
                    total[name] = total.get(name, 0) + count
            top = sorted(total.items(), key=lambda item: -item[1])[:5]
            print("   resident after, per common query: " + ", ".join(f"{n} {c / len(common):.0f}" for n, c in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

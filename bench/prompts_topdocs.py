"""Experiment: can per-word "top documents" lists lift common-word ranking at 1M prompts?

    .venv/bin/python bench/prompts_topdocs.py DATABASE [--queries 400] [--top 100 300] [--recent 500 2000]

DATABASE is any database with the prompt library at size (bench/prompts.py's or
bench/scale.py's). Read-only: the lists live in an attached in-memory database.

For every word of the queries that more than ``--recent`` prompts contain, the top
``--top`` prompts by single-word bm25 are stored (FTS5 ``ORDER BY bm25 LIMIT``, the cost
of building each list is printed). A query's candidates are then the newest ``--recent``
matches (what the repository ranks today) plus those list entries that match the whole
query (FTS5 checks them by rowid), ranked by bm25. Prints p50/p99 and overlap@10 with the
exact bm25 top 10 of the whole match set, per query class and combination.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.prompts import CLASSES, percentiles, queries  # noqa: E402
from core.services.prompts import words  # noqa: E402
from storage.sqlite.database import Database  # noqa: E402
from storage.sqlite.prompt_repository import SqlitePromptRepository  # noqa: E402

EXACT = "SELECT f.rowid FROM prompts_fts f WHERE prompts_fts MATCH ? ORDER BY bm25(prompts_fts), f.rowid DESC LIMIT 10"


async def main_async(args: argparse.Namespace) -> None:
    db = await Database.open(args.database)
    repo = SqlitePromptRepository(db)
    texts = queries(args.queries)
    await db.execute("ATTACH ':memory:' AS x")
    top = max(args.top)
    await db.execute(
        "CREATE TABLE x.topdocs (term TEXT NOT NULL, rank INTEGER NOT NULL, r INTEGER NOT NULL,"
        " PRIMARY KEY (term, rank))"
    )
    vocabulary = {w for _kind, text in texts for w in words(text)}
    counts = dict(
        await db.fetchall(
            f"SELECT term, docs FROM prompt_terms WHERE term IN ({', '.join('?' * len(vocabulary))})", list(vocabulary)
        )
    )
    common = sorted(t for t, docs in counts.items() if docs > min(args.recent))
    build = []
    for term in common:
        started = time.perf_counter()
        rows = await db.fetchall(
            f"SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ? ORDER BY bm25(prompts_fts) LIMIT {top}",
            (f'"{term}"',),
        )
        build.append(time.perf_counter() - started)
        await db.executemany("INSERT INTO x.topdocs VALUES (?, ?, ?)", [(term, i, r[0]) for i, r in enumerate(rows)])
    print(
        f"{len(common)} common words of the queries; list of {top} per word built in median "
        f"{statistics.median(build) * 1000:.0f} ms, max {max(build) * 1000:.0f} ms"
    )
    exact: dict[str, set[int]] = {}
    for _kind, text in texts:
        query = await repo.fts_query(text)
        if query:
            exact[text] = {r[0] for r in await db.fetchall(EXACT, (query,))}
    print(f"{'recent':>7}{'top':>6}  {'class':<8}{'p50':>7}{'p99':>7}  overlap@10")
    for recent in args.recent:
        for k in args.top:
            results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in CLASSES}
            for kind, text in texts:
                query = await repo.fts_query(text)
                if not query or not exact.get(text):
                    continue
                listed = [t for t in dict.fromkeys(words(text)) if counts.get(t, 0) > recent]
                numbered = ", ".join(f"?{i + 2}" for i in range(len(listed)))
                sql = (
                    f"SELECT r, score FROM (SELECT rowid AS r, bm25(prompts_fts) AS score FROM prompts_fts"
                    f" WHERE prompts_fts MATCH ?1 ORDER BY rowid DESC LIMIT {recent})"
                    + (
                        f" UNION SELECT rowid, bm25(prompts_fts) FROM prompts_fts WHERE prompts_fts MATCH ?1 AND"
                        f" rowid IN (SELECT r FROM x.topdocs WHERE rank < {k} AND term IN ({numbered}))"
                        if listed
                        else ""
                    )
                    + " ORDER BY score, r DESC LIMIT 10"
                )
                started = time.perf_counter()
                rows = await db.fetchall(sql, (query, *listed))
                elapsed = time.perf_counter() - started
                reference = exact[text]
                results[kind].append((elapsed, len(reference & {r[0] for r in rows}) / len(reference)))
            everything = [x for rows in results.values() for x in rows]
            for kind, rows in (*results.items(), ("all", everything)):
                if not rows:
                    continue
                p50, _p95, p99 = percentiles([r[0] for r in rows])
                print(f"{recent:7d}{k:6d}  {kind:<8}{p50:7.1f}{p99:7.1f}  {sum(r[1] for r in rows) / len(rows):.2f}")
    await db.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", type=Path)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--top", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--recent", type=int, nargs="+", default=[500, 2000])
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Experiment: rank prompt-search candidates without FTS5's ``bm25()``, from lengths and repeats held in memory.

    .venv/bin/python bench/prompts_ownrank.py COPY.sqlite3 [--queries 200]

COPY is a copy of a database with the prompt library at size (bench/scale.py's), opened read-only.
FTS5's ``bm25()`` costs per query a pass over every phrase's whole doclist (its document count)
and per candidate ~8 µs (docsize row, phrase instances); docs/BENCHMARKS.md, issue 16 (16q).
This ranks the same candidates (the newest ``CANDIDATES`` matches, FTS5's rowid-only walk) with
bm25's formula computed here:

* document length: one byte a prompt, in memory;
* word frequency: 1 for every query word (every candidate contains each), plus the prompt's
  repeated words (word id and count), in memory, packed;
* IDF: ``prompt_terms`` document counts (a prefix: the sum of its completions' counts, capped,
  or with ``--exact-prefix-counts`` an FTS5 count kept per prefix);
* an expanded long prefix (``"a" OR "b"``): which alternatives a candidate holds, from a rowid
  walk of each alternative over the candidates' range.

With ``--single-completion`` a prefix with one completion in the vocabulary is ranked as that
word, and a query with any other prefix by ``bm25()`` as today (exact where it applies).
With ``--hybrid`` a query with fewer matches than ``CANDIDATES`` (every match a candidate) is
ranked by FTS5's ``bm25()`` as today, so only full candidate sets are ranked here.

Prints the load (time, memory), then per class p50/p99 ms of the repository's search statement
and of this ranking (walk + scoring + reading the 10 winners), and each one's overlap@10 with
the exact bm25 top 10 of the same match set. Prefix frequencies are approximate (a prompt
holding two different completions once each counts 1), as are prefix IDFs.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import sqlite3
import sys
import time
from array import array
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.prompts import CLASSES, percentiles, queries  # noqa: E402
from core.services.prompts import words  # noqa: E402
from storage.sqlite.database import Database  # noqa: E402
from storage.sqlite.prompt_repository import (  # noqa: E402
    CANDIDATES,
    MAX_INDEXED_PREFIX,
    MAX_WORDS,
    MIN_PREFIX_WORD,
    SqlitePromptRepository,
    ranking_sql,
)

K1, B = 1.2, 0.75
_ASCII_WORD = re.compile(r"[a-z0-9]+")
EXACT = "SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ? ORDER BY bm25(prompts_fts), rowid DESC LIMIT 10"
EXACT_PREFIX_COUNTS = False  # --exact-prefix-counts
HYBRID = False  # --hybrid
SINGLE_COMPLETION = False  # --single-completion
RANKED = (
    "SELECT r FROM (SELECT rowid AS r, bm25(prompts_fts) AS score FROM prompts_fts WHERE prompts_fts MATCH ?"
    f" ORDER BY rowid DESC LIMIT {CANDIDATES}) ORDER BY score, r DESC LIMIT 10"
)
_prefix_hits: dict[str, int] = {}
WALK = f"SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ? ORDER BY rowid DESC LIMIT {CANDIDATES}"


class Library:
    """Lengths and repeated words of every prompt, packed."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.ids: dict[str, int] = {}
        self.names: list[str] = []
        top = conn.execute("SELECT max(rowid) FROM prompts").fetchone()[0]
        self.length = array("B", bytes(top + 1))
        self.start = array("I", [0]) * (top + 2)
        self.entries = array("I")  # word id << 4 | count (capped at 15)
        total = rows = 0
        last = 0
        for rowid, text in conn.execute("SELECT rowid, text FROM prompts ORDER BY rowid"):
            lowered = text.lower()
            tokens = _ASCII_WORD.findall(lowered) if lowered.isascii() else words(text)
            for gap in range(last + 1, rowid + 1):
                self.start[gap] = len(self.entries)
            last = rowid
            for word, count in Counter(tokens).items():
                if count > 1:
                    number = self.ids.get(word)
                    if number is None:
                        number = self.ids[word] = len(self.names)
                        self.names.append(word)
                    self.entries.append(number << 4 | min(count, 15))
            self.length[rowid] = min(len(tokens), 255)
            total += len(tokens)
            rows += 1
        for gap in range(last + 1, top + 2):
            self.start[gap] = len(self.entries)
        self.rows, self.avgdl = rows, total / max(1, rows)

    def repeats(self, rowid: int) -> dict[str, int]:
        """The prompt's words that occur more than once, with their counts."""
        return {self.names[e >> 4]: e & 15 for e in self.entries[self.start[rowid] : self.start[rowid + 1]]}


def idf(rows: int, hits: int) -> float:
    """FTS5 bm25's IDF (clamped to 1e-6 where a word is in more than half the rows)."""
    value = math.log((rows - hits + 0.5) / (hits + 0.5))
    return value if value > 0 else 1e-6


async def plans(path: Path, texts: list[str]) -> list[tuple[str | None, list[tuple[str, str]]]]:
    """Per text: the repository's FTS5 query and its phrases as (kind, word): plain, prefix, alt."""
    db = await Database.open(path)
    try:
        repo = SqlitePromptRepository(db)
        out = []
        for text in texts:
            typed = words(text)
            if not typed:
                out.append((None, []))
                continue
            last = typed[-1]
            exact = [t for t in dict.fromkeys(typed[:-1]) if t != last][: MAX_WORDS - 1]
            phrases = [("plain", t) for t in exact]
            if len(last) < MIN_PREFIX_WORD:
                phrases.append(("plain", last))
            elif len(last) <= MAX_INDEXED_PREFIX:
                phrases.append(("prefix", last))
            else:
                alternatives = [last, *(await repo._expansions([last])).get(last, ())]
                phrases += [("alt" if len(alternatives) > 1 else "plain", t) for t in alternatives]
            out.append((await repo.fts_query(text), phrases))
        return out
    finally:
        await db.close()


def hits(conn: sqlite3.Connection, kind: str, word: str, rows: int) -> int:
    """Documents holding the phrase, from the vocabulary (a prefix: its completions' sum, capped)."""
    if kind == "prefix" and EXACT_PREFIX_COUNTS:  # counted once per prefix (a doclist pass), then cached
        if word not in _prefix_hits:
            match = '"' + word + '"*'
            _prefix_hits[word] = conn.execute(
                "SELECT count(*) FROM prompts_fts WHERE prompts_fts MATCH ?", (match,)
            ).fetchone()[0]
        return int(_prefix_hits[word])
    if kind == "prefix":
        got = conn.execute(
            "SELECT sum(docs) FROM prompt_terms WHERE term >= ? AND term < ?", (word, word + "\U0010ffff")
        ).fetchone()
        return min(rows, int(got[0] or 0))
    got = conn.execute("SELECT docs FROM prompt_terms WHERE term = ?", (word,)).fetchone()
    return int(got[0]) if got else 0


def own_rank(conn: sqlite3.Connection, lib: Library, query: str, phrases: list[tuple[str, str]]) -> list[int]:
    """The top 10 rowids of the newest CANDIDATES matches, by bm25 computed here."""
    candidates = [r[0] for r in conn.execute(WALK, (query,))]
    if not candidates:
        return []
    if HYBRID and len(candidates) < CANDIDATES:  # every match is a candidate: FTS5's exact bm25
        return [r[0] for r in conn.execute(EXACT, (query,))]
    if SINGLE_COMPLETION:  # a prefix with one completion is that word; any other prefix: bm25() as today
        plain = []
        for kind, word in phrases:
            if kind == "prefix":
                found = conn.execute(
                    "SELECT term FROM prompt_terms WHERE term >= ? AND term < ? LIMIT 2", (word, word + "\U0010ffff")
                ).fetchall()
                if len(found) != 1:
                    return [r[0] for r in conn.execute(RANKED, (query,))]
                kind, word = "plain", found[0][0]
            plain.append((kind, word))
        phrases = plain
    low = candidates[-1]
    weights = [idf(lib.rows, hits(conn, kind, word, lib.rows)) for kind, word in phrases]
    holders: dict[int, set[int]] = {}
    for index, (kind, word) in enumerate(phrases):
        if kind == "alt":
            walk = "SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ? AND rowid >= ?"
            holders[index] = {r[0] for r in conn.execute(walk, ('"' + word + '"', low))}
    scored = []
    for rowid in candidates:
        repeats = lib.repeats(rowid)
        norm = K1 * (1 - B + B * lib.length[rowid] / lib.avgdl)
        score = 0.0
        for index, (kind, word) in enumerate(phrases):
            if kind == "prefix":
                tf = max(1, sum(c for w, c in repeats.items() if w.startswith(word)))
            elif kind == "alt":
                tf = repeats.get(word, 1) if rowid in holders[index] else 0
            else:
                tf = repeats.get(word, 1)
            if tf:
                score += weights[index] * tf * (K1 + 1) / (tf + norm)
        scored.append((-score, -rowid))
    scored.sort()
    return [-negative for _score, negative in scored[:10]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", type=Path)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--single-completion", action="store_true", help="bm25() for prefixes of 2+ words")
    parser.add_argument("--hybrid", action="store_true", help="bm25() when fewer matches than CANDIDATES")
    parser.add_argument("--exact-prefix-counts", action="store_true", help="a prefix's IDF from a cached count")
    args = parser.parse_args()
    global EXACT_PREFIX_COUNTS, HYBRID, SINGLE_COMPLETION
    EXACT_PREFIX_COUNTS, HYBRID, SINGLE_COMPLETION = args.exact_prefix_counts, args.hybrid, args.single_completion
    conn = sqlite3.connect(f"file:{args.database}?mode=ro", uri=True)
    started = time.perf_counter()
    lib = Library(conn)
    load_s = time.perf_counter() - started
    packed = sum(len(a) * a.itemsize for a in (lib.length, lib.start, lib.entries))
    held = (packed + sum(sys.getsizeof(w) + 100 for w in lib.names)) / 2**20  # ~100 B a dict slot
    check = conn.execute("SELECT id, sz FROM prompts_fts_docsize ORDER BY random() LIMIT 2000").fetchall()
    agree = sum(1 for rowid, size in check if lib.length[rowid] == min(size[0], 255))  # one-byte varint sizes
    print(
        f"loaded {lib.rows:,} prompts in {load_s:.1f} s: {len(lib.entries):,} repeated (prompt, word) pairs,"
        f" {len(lib.names):,} words; {held:.1f} MiB held; lengths agree with %_docsize on {agree}/{len(check)}"
    )
    texts = queries(args.queries)
    built = asyncio.run(plans(args.database, [t for _k, t in texts]))
    ranking = ranking_sql(CANDIDATES)
    times: dict[str, list[tuple[str, float]]] = {"statement": [], "own": []}
    overlap: dict[str, list[tuple[str, float]]] = {"statement": [], "own": []}
    for (_kind, _text), (query, phrases) in list(zip(texts, built, strict=True))[:20]:  # warm both
        if query:
            conn.execute(ranking, (query, 0, 10)).fetchall()
            own_rank(conn, lib, query, phrases)
    for (kind, _text), (query, phrases) in zip(texts, built, strict=True):
        if query is None:
            continue
        started = time.perf_counter()
        statement = [r[0] for r in conn.execute(ranking, (query, 0, 10))]
        times["statement"].append((kind, time.perf_counter() - started))
        started = time.perf_counter()
        mine = own_rank(conn, lib, query, phrases)
        marks = ", ".join("?" * len(mine))
        if mine:
            conn.execute(f"SELECT id, text FROM prompts WHERE rowid IN ({marks})", mine).fetchall()
        times["own"].append((kind, time.perf_counter() - started))
        exact = [r[0] for r in conn.execute(EXACT, (query,))]
        if exact:
            ids = {
                r[0]
                for r in conn.execute(f"SELECT id FROM prompts WHERE rowid IN ({', '.join('?' * len(exact))})", exact)
            }
            overlap["statement"].append((kind, len(ids & set(statement)) / len(ids)))
            overlap["own"].append((kind, len(set(exact) & set(mine)) / len(exact)))
    for name in ("statement", "own"):
        p = percentiles([s for _k, s in times[name]])
        print(f"{name:<10} all      p50 {p[0]:6.1f} p95 {p[1]:6.1f} p99 {p[2]:6.1f} ms", end="")
        print(f"   overlap@10 {sum(o for _k, o in overlap[name]) / max(1, len(overlap[name])):.2f}")
        for kind in CLASSES:
            p = percentiles([s for k, s in times[name] if k == kind])
            values = [o for k, o in overlap[name] if k == kind]
            print(
                f"{'':<10} {kind:<8} p50 {p[0]:6.1f} p99 {p[2]:6.1f} ms   overlap@10 {sum(values) / max(1, len(values)):.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``core.services.prompts.PromptRepository`` on SQLite with FTS5.

Layout: ``prompts`` (one row per entry; the id is the hash of kind + normalised text, so
dedupe is ``INSERT OR IGNORE``), ``prompt_tracks`` (entry ↔ track links), ``prompts_fts``
(FTS5 external-content index kept by triggers), ``prompt_terms`` (vocabulary with
document counts, kept by ``save_or_link`` in the same transaction).

Search, fast at a million prompts (bench/prompts.py, docs/BENCHMARKS.md):

* every word of the member's text becomes an FTS5 string (operators and quotes in member
  text are never syntax); words must all match;
* the last word also matches as a prefix (what a member is still typing, as in track
  search). Prefixes of 2-6 letters use the FTS5 prefix indexes of ``prompts_fts``
  (``prefix='2 3 4 5 6'``), which are read lazily like any term. Longer ones would fall
  back to FTS5's prefix scan, which merges the doclists of every completion before the
  first row (up to ~75 ms at 1M rows for a common word), so they are expanded through
  ``prompt_terms`` to the word OR its ``EXPANSIONS`` most common completions — an OR
  FTS5 merges lazily, stopping at the LIMIT;
* ranking scores a bounded candidate set: the newest ``CANDIDATES`` matches (FTS5 walks
  a doclist backwards by rowid and stops there), ranked by ``bm25`` and returned best
  first. When a query matches fewer than ``CANDIDATES`` entries (any query with a rare
  word) the ranking is exact bm25; for very common words it is the most relevant among
  the newest ``CANDIDATES`` matches. Ranking every match (``ORDER BY bm25``) costs one
  docsize lookup per match: p99 ~0.4 s for words in ~10 % of a million prompts. Only the
  returned entries' ``prompts`` rows are read (``ranking_sql``);
* once ``warm()`` has loaded every prompt's length and repeated words
  (``storage.sqlite.prompt_scores``), a query whose words are all plain words (a prefix with
  one completion in ``prompt_terms`` is that word) is scored from memory with the same bm25
  formula and order: only the rowid walk touches the index. ``bm25()`` itself costs a pass
  over each word's whole doclist per query and ~8 µs per candidate (docs/BENCHMARKS.md).
  Wider prefixes and OR expansions still rank with ``bm25()``.

Votes: ``top`` and ``Prompt.votes`` sum the voting feature's ``track_votes`` over the
tracks linked to an entry (one SQL join; no counter to keep in step).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.model import Sharer, TrackId
from core.services.prompts import Prompt, words
from core.waiting import in_thread_until_cancelled
from storage.sqlite.database import Database, Row
from storage.sqlite.prompt_scores import score_table

CANDIDATES = 2000  # matches scored by bm25 per query
EXPANSIONS = 16  # completions a long prefix expands to (most common first)
MIN_PREFIX_WORD = 2  # a shorter last word matches only as a whole word
MAX_INDEXED_PREFIX = 6  # longest prefix served by prompts_fts's prefix indexes (migration 4)
MAX_WORDS = 8  # query words used
MORE_LIKE_TERMS = 6  # distinctive words "more like this" searches for
_RANGE_SCAN = 5000  # vocabulary rows read per prefix at most
_COLUMNS = "p.id, p.text, p.kind, p.generator, p.settings, p.author_platform, p.author_id, p.author_name, p.created_at"


def _prompt(row: Row, tracks: Sequence[str] = (), votes: int = 0) -> Prompt:
    author = Sharer(row["author_platform"], row["author_id"], row["author_name"]) if row["author_id"] else None
    return Prompt(
        row["id"],
        row["text"],
        row["kind"],
        row["generator"],
        json.loads(row["settings"] or "{}"),
        author,
        datetime.fromisoformat(row["created_at"]),
        tuple(TrackId(t) for t in tracks),
        votes,
    )


_WALK = "SELECT rowid FROM prompts_fts WHERE prompts_fts MATCH ? ORDER BY rowid DESC LIMIT {candidates}"


def ranking_sql(candidates: int) -> str:
    """The search statement: (FTS5 query, rowid to leave out, limit) → entries best first.

    The newest ``candidates`` matches are ranked by rowid and score alone; only the winners'
    ``prompts`` rows are read (joining every candidate first read up to ``candidates``
    scattered rows: most of a cold query's page reads, docs/BENCHMARKS.md)."""
    return (
        f"SELECT {_COLUMNS} FROM (SELECT r, score FROM (SELECT rowid AS r, bm25(prompts_fts) AS score"
        f" FROM prompts_fts WHERE prompts_fts MATCH ? ORDER BY rowid DESC LIMIT {int(candidates)})"
        " WHERE r != ? ORDER BY score, r DESC LIMIT ?) c JOIN prompts p ON p.rowid = c.r ORDER BY c.score, c.r DESC"
    )


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Typed:
    """Member text as the search reads it: the whole words, the last one (still being typed),
    and, for a last word longer than the prefix indexes, its most common completions."""

    exact: list[str]
    last: str
    completions: list[str]

    def fts_query(self) -> str:
        """The FTS5 query: every word, the last also as a prefix (``"syn"*`` or ``("synthwa" OR "synthwave")``)."""
        groups = [_quote(t) for t in self.exact]
        if len(self.last) < MIN_PREFIX_WORD:
            groups.append(_quote(self.last))
        elif len(self.last) <= MAX_INDEXED_PREFIX:
            groups.append(_quote(self.last) + "*")
        else:
            alternatives = [self.last, *self.completions]
            group = " OR ".join(_quote(t) for t in alternatives)
            groups.append(f"({group})" if len(alternatives) > 1 else group)
        return " AND ".join(groups)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


class SqlitePromptRepository:
    """The prompt library in the instance database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._scores = score_table(db)

    async def warm(self) -> int:
        """Load every prompt's length and repeated words into memory (at start-up, in a worker thread).

        Until it is loaded, searches rank with FTS5's ``bm25()``; then, when every query word
        is a plain word, with the same score computed from memory. Returns the prompts loaded
        (0 when loaded or loading already)."""
        # a stop of the instance makes the thread give up within 10,000 rows
        return await in_thread_until_cancelled(lambda stop: self._scores.load(self._db.path, stop))

    # -- writing -------------------------------------------------------------------------

    async def save_or_link(self, prompt: Prompt, track_id: TrackId | None) -> tuple[Prompt, bool]:
        """Insert unless present; link the track; (stored, created). One transaction."""
        author = prompt.author
        async with self._db.transaction() as tx:
            inserted = await tx.fetchall(
                "INSERT OR IGNORE INTO prompts(id, text, kind, generator, settings, author_platform, author_id,"
                " author_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING rowid",
                (
                    prompt.id,
                    prompt.text,
                    prompt.kind,
                    prompt.generator,
                    json.dumps(dict(prompt.settings)),
                    author.platform if author else None,
                    author.user_id if author else None,
                    author.display_name if author else None,
                    prompt.created_at.isoformat(),
                ),
            )
            if inserted:
                await tx.executemany(
                    "INSERT INTO prompt_terms(term, docs) VALUES (?, 1)"
                    " ON CONFLICT(term) DO UPDATE SET docs = docs + 1",
                    [(term,) for term in sorted(set(words(prompt.text)))],
                )
            if track_id:
                await tx.execute(
                    "INSERT OR IGNORE INTO prompt_tracks(prompt_id, track_id) VALUES (?, ?)", (prompt.id, track_id)
                )
        if inserted:  # committed: the in-memory scores follow (SQLite stays the truth)
            self._scores.add(int(inserted[0][0]), prompt.text)
        stored = await self.get(prompt.id)
        assert stored is not None
        return stored, bool(inserted)

    async def rebuild_terms(self) -> int:
        """Recount the vocabulary from the index (after bulk loads that bypass ``save_or_link``)."""
        async with self._db.transaction() as tx:
            await tx.execute("DELETE FROM prompt_terms")
            await tx.execute("INSERT INTO prompt_terms(term, docs) SELECT term, doc FROM prompts_vocab")
        row = await self._db.fetchone("SELECT count(*) FROM prompt_terms")
        return int(row[0]) if row else 0

    # -- reading -------------------------------------------------------------------------

    async def _with_tracks(self, rows: Sequence[Row], votes: dict[str, int] | None = None) -> list[Prompt]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        links = await self._db.fetchall(
            f"SELECT prompt_id, track_id FROM prompt_tracks WHERE prompt_id IN ({_marks(len(ids))}) ORDER BY rowid", ids
        )
        tracks: dict[str, list[str]] = {}
        for link in links:
            tracks.setdefault(link[0], []).append(link[1])
        if votes is None:
            votes = await self._votes(ids)
        return [_prompt(r, tracks.get(r["id"], ()), votes.get(r["id"], 0)) for r in rows]

    async def get(self, prompt_id: str) -> Prompt | None:
        """One entry, with its tracks and all-time votes."""
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM prompts p WHERE p.id = ?", (prompt_id,))
        found = await self._with_tracks(rows)
        return found[0] if found else None

    async def resolve(self, ref: str) -> Prompt | None:
        """By id or unambiguous prefix (4+ characters)."""
        ref = ref.strip().lower()
        exact = await self.get(ref)
        if exact or len(ref) < 4:
            return exact
        rows = await self._db.fetchall(
            "SELECT id FROM prompts WHERE id >= ? AND id < ? LIMIT 2", (ref, ref + "\U0010ffff")
        )
        return await self.get(rows[0][0]) if len(rows) == 1 else None

    async def _expansions(self, prefixes: Iterable[str]) -> dict[str, list[str]]:
        """The most common completions of each prefix (itself excluded), one query."""
        wanted = sorted({p for p in prefixes if len(p) >= MIN_PREFIX_WORD})
        if not wanted:
            return {}
        parts = []
        params: list[object] = []
        for index, prefix in enumerate(wanted):
            parts.append(
                f"SELECT * FROM (SELECT {index} AS w, term FROM (SELECT term, docs FROM prompt_terms"
                f" WHERE term > ? AND term < ? LIMIT {_RANGE_SCAN}) ORDER BY docs DESC, term LIMIT {EXPANSIONS})"
            )
            params += [prefix, prefix + "\U0010ffff"]
        rows = await self._db.fetchall(" UNION ALL ".join(parts), params)
        out: dict[str, list[str]] = {}
        for row in rows:
            out.setdefault(wanted[row[0]], []).append(row[1])
        return out

    async def _parse(self, text: str) -> _Typed | None:
        """Member text as the search reads it (None when it has no words); one query at most,
        for the completions of a long last word."""
        typed = words(text)
        if not typed:
            return None
        last = typed[-1]
        exact = [t for t in dict.fromkeys(typed[:-1]) if t != last][: MAX_WORDS - 1]
        completions = (await self._expansions([last])).get(last, []) if len(last) > MAX_INDEXED_PREFIX else []
        return _Typed(exact, last, completions)

    async def fts_query(self, text: str) -> str | None:
        """The FTS5 query this repository runs for member text (None when it has no words).

        Every word must match; the last also as a prefix (what a member is still typing):
        2-6 letters through the table's prefix indexes (``"syn"*``), longer ones expanded
        to the word OR its most common completions (``("synthwa" OR "synthwave")``)."""
        typed = await self._parse(text)
        return None if typed is None else typed.fts_query()

    async def _ranked(self, query: str, limit: int, exclude: str | None = None) -> list[Prompt]:
        skip = 0  # rowids start at 1
        if exclude:
            row = await self._db.fetchone("SELECT rowid FROM prompts WHERE id = ?", (exclude,))
            skip = int(row[0]) if row else 0
        rows = await self._db.fetchall(ranking_sql(CANDIDATES), (query, skip, limit))
        return await self._with_tracks(rows)

    async def search(self, text: str, limit: int) -> Sequence[Prompt]:
        """Relevance-ranked entries matching every word (each also as a word prefix)."""
        if limit <= 0:
            return []
        typed = await self._parse(text)
        if typed is None:
            return []
        query = typed.fts_query()
        plain = await self._plain_words(typed) if self._scores.ready else None
        if plain is not None:
            walk = [r[0] for r in await self._db.fetchall(_WALK.format(candidates=int(CANDIDATES)), (query,))]
            if not walk:
                return []
            if walk[0] > self._scores.top:  # committed by another process: catch up from SQLite first
                missing = await self._db.fetchall(
                    "SELECT rowid, text FROM prompts WHERE rowid > ? ORDER BY rowid LIMIT 1000", (self._scores.top,)
                )
                for row in missing:
                    self._scores.add(int(row[0]), row[1])
            ranked = self._scores.rank(walk, plain, limit) if walk[0] <= self._scores.top else None
            if ranked is not None:
                rows = await self._db.fetchall(
                    f"SELECT p.rowid AS r, {_COLUMNS} FROM prompts p WHERE p.rowid IN ({_marks(len(ranked))})", ranked
                )
                place = {rowid: index for index, rowid in enumerate(ranked)}
                return await self._with_tracks(sorted(rows, key=lambda row: place[row["r"]]))
        return await self._ranked(query, limit)

    async def _plain_words(self, typed: _Typed) -> list[tuple[str, int]] | None:
        """The query's words with their document counts when each is a plain word of ``fts_query``
        (a prefix with exactly one completion is that word); None when one is a wider prefix or
        an OR of completions, which only ``bm25()`` ranks exactly."""
        last = typed.last
        chosen = list(typed.exact)
        if MIN_PREFIX_WORD <= len(last) <= MAX_INDEXED_PREFIX:
            completions = await self._db.fetchall(
                "SELECT term FROM prompt_terms WHERE term >= ? AND term < ? LIMIT 2", (last, last + "\U0010ffff")
            )
            if len(completions) != 1:
                return None
            last = completions[0][0]
        elif typed.completions:
            return None
        chosen.append(last)
        rows = await self._db.fetchall(
            f"SELECT term, docs FROM prompt_terms WHERE term IN ({_marks(len(set(chosen)))})", sorted(set(chosen))
        )
        docs = {r[0]: int(r[1]) for r in rows}
        return [(word, docs.get(word, 0)) for word in chosen]

    async def more_like(self, prompt_id: str, limit: int) -> Sequence[Prompt]:
        """Entries sharing the prompt's most distinctive words (rarest in the library first)."""
        row = await self._db.fetchone("SELECT text FROM prompts WHERE id = ?", (prompt_id,))
        if row is None or limit <= 0:
            return []
        terms = sorted(set(words(row[0])))
        if not terms:
            return []
        counts = await self._db.fetchall(
            f"SELECT term, docs FROM prompt_terms WHERE term IN ({_marks(len(terms))})", terms
        )
        rare = [t for t, docs in sorted(((r[0], r[1]) for r in counts), key=lambda x: (x[1], x[0])) if docs > 1]
        if not rare:
            return []
        query = " OR ".join(_quote(t) for t in rare[:MORE_LIKE_TERMS])
        return await self._ranked(query, limit, exclude=prompt_id)

    async def _votes(self, prompt_ids: Sequence[str], since: datetime | None = None) -> dict[str, int]:
        if not prompt_ids:
            return {}
        rows = await self._db.fetchall(
            f"SELECT pt.prompt_id, sum(v.value) FROM prompt_tracks pt JOIN track_votes v ON v.track_id = pt.track_id"
            f" WHERE pt.prompt_id IN ({_marks(len(prompt_ids))}) AND v.cast_at >= ? GROUP BY pt.prompt_id",
            (*prompt_ids, since.isoformat() if since else ""),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def top(self, limit: int, since: datetime | None) -> Sequence[Prompt]:
        """Entries by the votes on their tracks cast since ``since``; ties by id."""
        rows = await self._db.fetchall(
            # the recent votes drive the join (INDEXED BY + CROSS JOIN fix the order): left to itself
            # SQLite walks every link and every vote of each linked track (16 s at 2,000,000 votes).
            # The week's votes are summed per track first, so each voted track's links are looked up
            # once, not once per vote (~380 -> ~130 ms at 2,000,000 votes, bench/scale.py).
            "SELECT pt.prompt_id, sum(w.votes) AS votes FROM (SELECT track_id, sum(value) AS votes"
            " FROM track_votes INDEXED BY track_votes_recent WHERE cast_at >= ? GROUP BY track_id) w"
            " CROSS JOIN prompt_tracks pt ON pt.track_id = w.track_id GROUP BY pt.prompt_id HAVING votes > 0"
            " ORDER BY votes DESC, pt.prompt_id LIMIT ?",
            (since.isoformat() if since else "", limit),
        )
        votes = {r[0]: int(r[1]) for r in rows}
        if not votes:
            return []
        prompts = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM prompts p WHERE p.id IN ({_marks(len(votes))})", list(votes)
        )
        found = await self._with_tracks(prompts, votes)
        return sorted(found, key=lambda p: (-p.votes, p.id))

    async def count(self) -> int:
        """Entries in the library."""
        row = await self._db.fetchone("SELECT count(*) FROM prompts")
        return int(row[0]) if row else 0

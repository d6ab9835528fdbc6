"""``core.services.prompts.PromptRepository`` on SQLite with FTS5.

Search ranks a bounded set of candidates: FTS5 yields matches in rowid order cheaply, so
the newest ``CANDIDATES`` matches are scored with bm25 and the best ``limit`` returned.
For rare words that is every match (exact ranking); for words in a large share of the
library it is the most relevant among the newest matches, which keeps p99 latency flat
at a million prompts, where ranking every match of a common word costs ~0.4 s
(notes/performance.md; measured by bench/prompts.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from core.model import Sharer, TrackId
from core.services.prompts import Prompt
from storage.sqlite.database import Database, Row
from storage.sqlite.fts_query import fts_query

CANDIDATES = 2000
_COLUMNS = ("p.id, p.text, p.kind, p.generator, p.settings, p.author_platform, p.author_id, p.author_name, "
            "p.created_at")


def _prompt(row: Row, tracks: Sequence[str] = (), votes: int = 0) -> Prompt:
    author = Sharer(row["author_platform"], row["author_id"], row["author_name"]) if row["author_id"] else None
    return Prompt(row["id"], row["text"], row["kind"], row["generator"], json.loads(row["settings"] or "{}"),
                  author, datetime.fromisoformat(row["created_at"]), tuple(TrackId(t) for t in tracks), votes)


class SqlitePromptRepository:
    """The prompt library in the instance database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_or_link(self, prompt: Prompt, track_id: TrackId | None) -> tuple[Prompt, bool]:
        """Insert unless present; link the track; (stored, created)."""
        author = prompt.author
        async with self._db.transaction() as tx:
            changed = await tx.execute(
                "INSERT OR IGNORE INTO prompts(id, text, kind, generator, settings, author_platform, author_id,"
                " author_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (prompt.id, prompt.text, prompt.kind, prompt.generator, json.dumps(dict(prompt.settings)),
                 author.platform if author else None, author.user_id if author else None,
                 author.display_name if author else None, prompt.created_at.isoformat()))
            if track_id:
                await tx.execute("INSERT OR IGNORE INTO prompt_tracks(prompt_id, track_id) VALUES (?, ?)",
                                 (prompt.id, track_id))
        stored = await self.get(prompt.id)
        assert stored is not None
        return stored, changed == 1

    async def _with_tracks(self, rows: Sequence[Row], votes: dict[str, int] | None = None) -> list[Prompt]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        marks = ", ".join("?" * len(ids))
        links = await self._db.fetchall(
            f"SELECT prompt_id, track_id FROM prompt_tracks WHERE prompt_id IN ({marks}) ORDER BY rowid", ids)
        tracks: dict[str, list[str]] = {}
        for link in links:
            tracks.setdefault(link[0], []).append(link[1])
        return [_prompt(r, tracks.get(r["id"], ()), (votes or {}).get(r["id"], 0)) for r in rows]

    async def get(self, prompt_id: str) -> Prompt | None:
        """One entry."""
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM prompts p WHERE p.id = ?", (prompt_id,))
        found = await self._with_tracks(rows, await self._votes([r["id"] for r in rows]))
        return found[0] if found else None

    async def resolve(self, ref: str) -> Prompt | None:
        """By id or unambiguous prefix (4+ characters)."""
        exact = await self.get(ref)
        if exact or len(ref) < 4:
            return exact
        rows = await self._db.fetchall("SELECT id FROM prompts WHERE id >= ? AND id < ? LIMIT 2",
                                       (ref, ref + "\U0010ffff"))
        return await self.get(rows[0][0]) if len(rows) == 1 else None

    async def _ranked(self, query: str, limit: int, exclude: str | None = None) -> list[Prompt]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM (SELECT rowid AS r, bm25(prompts_fts) AS score FROM prompts_fts"
            f" WHERE prompts_fts MATCH ? ORDER BY rowid DESC LIMIT {CANDIDATES}) c"
            f" JOIN prompts p ON p.rowid = c.r WHERE p.id != ? ORDER BY c.score, c.r DESC LIMIT ?",
            (query, exclude or "", limit))
        return await self._with_tracks(rows)

    async def search(self, text: str, limit: int) -> Sequence[Prompt]:
        """Relevance-ranked matches of every word (the last one also as a prefix)."""
        query = fts_query(text)
        if query is None:
            return []
        return await self._ranked(query, limit)

    async def more_like(self, prompt_id: str, limit: int) -> Sequence[Prompt]:
        """Entries sharing the prompt's most distinctive words (rarest in the library first)."""
        base = await self.get(prompt_id)
        if base is None:
            return []
        terms = [w.strip('"') for w in (fts_query(base.text, max_terms=64, prefix=False) or "").split()]
        if not terms:
            return []
        marks = ", ".join("?" * len(set(terms)))
        counts = await self._db.fetchall(
            f"SELECT term, doc FROM prompts_vocab WHERE term IN ({marks})", sorted(set(terms)))
        rare = [t for t, doc in sorted(((r[0], r[1]) for r in counts), key=lambda x: x[1]) if doc > 1][:6]
        if not rare:
            return []
        return await self._ranked(" OR ".join(f'"{t}"' for t in rare), limit, exclude=prompt_id)

    async def _votes(self, prompt_ids: Sequence[str], since: datetime | None = None) -> dict[str, int]:
        if not prompt_ids:
            return {}
        marks = ", ".join("?" * len(prompt_ids))
        rows = await self._db.fetchall(
            f"SELECT pt.prompt_id, sum(v.value) FROM prompt_tracks pt JOIN track_votes v ON v.track_id = pt.track_id"
            f" WHERE pt.prompt_id IN ({marks}) AND v.cast_at >= ? GROUP BY pt.prompt_id",
            (*prompt_ids, since.isoformat() if since else ""))
        return {r[0]: int(r[1]) for r in rows}

    async def top(self, limit: int, since: datetime | None) -> Sequence[Prompt]:
        """Entries by the votes of their tracks."""
        rows = await self._db.fetchall(
            "SELECT pt.prompt_id, sum(v.value) AS votes FROM track_votes v JOIN prompt_tracks pt"
            " ON pt.track_id = v.track_id WHERE v.cast_at >= ? GROUP BY pt.prompt_id"
            " ORDER BY votes DESC, pt.prompt_id LIMIT ?", (since.isoformat() if since else "", limit))
        votes = {r[0]: int(r[1]) for r in rows}
        if not votes:
            return []
        marks = ", ".join("?" * len(votes))
        prompts = await self._db.fetchall(f"SELECT {_COLUMNS} FROM prompts p WHERE p.id IN ({marks})", list(votes))
        found = await self._with_tracks(prompts, votes)
        return sorted(found, key=lambda p: (-p.votes, p.id))

    async def count(self) -> int:
        """Entries in the library."""
        row = await self._db.fetchone("SELECT count(*) FROM prompts")
        return int(row[0]) if row else 0

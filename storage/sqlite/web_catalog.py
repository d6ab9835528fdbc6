"""``core.views.page_data.WebCatalog`` on SQLite: the reads of the public web page."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.model import Cid, Track, TrackId
from core.visibility import PUBLIC_VERDICTS
from storage.sqlite.database import Database
from storage.sqlite.track_repository import listed_track

# What a list or a feed shows of a track: not the evidence, quality report or lyrics, whose
# JSON decoding was most of a genre page's time (50 tracks) at 100,000 tracks.
_LISTED = (
    "SELECT id, cid, size, media_type, duration_s, title, sharer_platform, sharer_id, sharer_name,"
    " first_seen_at, origin_instance, verdict, verdict_reason, artist, genre, prompt, style, generator,"
    " source_url, status FROM tracks"
)


# The unary ``+`` keeps SQLite off ``tracks_verdict`` for these filters: through it, "newest
# public tracks" sorts every accepted track (a temp B-tree over ~100,000 rows, ~15 ms) instead
# of walking ``tracks_seen`` / ``tracks_genre_seen`` newest first and stopping after a page.
_PUBLIC = "+status = 'active' AND +verdict IN ({})".format(", ".join(f"'{v.value}'" for v in sorted(PUBLIC_VERDICTS)))


class SqliteWebCatalog:
    """Public tracks by date or genre, stored digests, rounds of a track, holders of a blob."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def public_recent(self, limit: int, genre: str | None = None) -> Sequence[Track]:
        """Public tracks newest first, as lists show them (walks ``tracks_seen`` or ``tracks_genre_seen``)."""
        if genre is None:
            rows = await self._db.fetchall(f"{_LISTED} WHERE {_PUBLIC} ORDER BY first_seen_at DESC LIMIT ?", (limit,))
        else:
            rows = await self._db.fetchall(
                f"{_LISTED} WHERE genre = ? AND {_PUBLIC} ORDER BY first_seen_at DESC LIMIT ?", (genre, limit)
            )
        return [listed_track(r) for r in rows]

    async def digests(self, limit: int) -> Sequence[tuple[datetime, Mapping[str, Any]]]:
        """Stored digests (``bot_state`` namespace ``digest``, keys ``week:<iso>``), newest first."""
        # ISO times of one zone sort as text: the newest ``limit`` come straight from the primary key
        rows = await self._db.fetchall(
            "SELECT key, value FROM bot_state WHERE namespace = 'digest' AND key >= 'week:' AND key < 'week;'"
            " ORDER BY key DESC LIMIT ?",
            (limit,),
        )
        out: list[tuple[datetime, Mapping[str, Any]]] = []
        for row in rows:
            try:
                out.append((datetime.fromisoformat(row["key"][5:]), json.loads(row["value"])))
            except ValueError:
                continue  # a key written by something else; not a digest
        out.sort(key=lambda item: item[0], reverse=True)
        return out[:limit]

    async def rounds_of(self, track_id: TrackId) -> Sequence[tuple[int, int]]:
        """(round, entry number) pairs, newest round first."""
        rows = await self._db.fetchall(
            "SELECT round_id, number FROM entries WHERE track_id = ? ORDER BY round_id DESC", (track_id,)
        )
        return [(int(r["round_id"]), int(r["number"])) for r in rows]

    async def holders(self, cid: Cid) -> Sequence[str]:
        """Peers that announced they hold the blob, and the peer a replicated track came from."""
        instances: set[str] = set()
        for row in await self._db.fetchall("SELECT source FROM fed_sources WHERE cid = ?", (cid,)):
            try:
                source = json.loads(row["source"])
            except ValueError:
                continue
            if isinstance(source, dict) and isinstance(source.get("instance"), str):
                instances.add(source["instance"])
        for row in await self._db.fetchall(
            "SELECT origin FROM fed_manifests WHERE track_id IN (SELECT id FROM tracks WHERE cid = ?)", (cid,)
        ):
            instances.add(str(row["origin"]))
        if not instances:
            return []
        marks = ", ".join("?" * len(instances))
        rows = await self._db.fetchall(
            f"SELECT name FROM fed_peers WHERE instance_id IN ({marks}) ORDER BY name", tuple(sorted(instances))
        )
        return [str(r["name"]) for r in rows]

    async def verdict_counts(self) -> Mapping[str, int]:
        """Tracks per verdict (active ones), for ``/metrics``."""
        rows = await self._db.fetchall(
            "SELECT verdict, count(*) AS n FROM tracks WHERE status = 'active' GROUP BY verdict"
        )
        return {str(r["verdict"]): int(r["n"]) for r in rows}

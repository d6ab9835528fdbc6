"""``CurationStore`` on SQLite: reads votes, shares and tracks; keeps boosts and lineage."""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import cast

from core.curation_ports import LineageLink, Member, Penalty, Relation, SignalKind, TrackFact, VoteFact, VoteRow
from core.model import Cid, TrackId
from storage.sqlite.database import Database, Row

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC).isoformat()
LIKES_PAGE = 10_000  # votes per query when the curation index reads them all (see ``vote_pages``)
TRACKS_PAGE = 5_000


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


_FACT_COLUMNS = "id, sharer_platform, sharer_id, genre, title, prompt, style, first_seen_at"  # ``_track_fact``'s
_PUBLIC = "status = 'active' AND verdict IN ('verified', 'declared')"  # the tracks curation learns from


def _track_fact(r: Row) -> TrackFact:
    return TrackFact(TrackId(r[0]), (r[1], r[2]), r[3], " ".join(x for x in (r[4], r[5], r[6]) if x), _at(r[7]))


def _link(row: Row) -> LineageLink:
    return LineageLink(TrackId(row[0]), Cid(row[1]), Cid(row[2]), Relation(row[3]), _at(row[4]))


def _merged(votes: Sequence[Row], reshares: Sequence[Row]) -> list[VoteFact]:
    return list(
        heapq.merge(
            (VoteFact(TrackId(r[0]), (r[1], r[2]), _at(r[3])) for r in votes),
            (VoteFact(TrackId(r[0]), (r[1], r[2]), _at(r[3]), SignalKind.RESHARE) for r in reshares),
            key=lambda f: f.at,
        )
    )


class SqliteCurationStore:
    """Curation's facts and records in the instance database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def likes_since(self, after: datetime | None) -> Sequence[VoteFact]:
        """Votes and re-shares from ``after`` on (inclusive: the index ignores a like it holds)."""
        since = after.isoformat() if after is not None else _EPOCH
        votes = await self._db.fetchall(
            "SELECT track_id, platform, user_id, cast_at FROM track_votes INDEXED BY track_votes_recent"
            " WHERE cast_at >= ? AND value > 0 ORDER BY cast_at, track_id, platform, user_id",
            (since,),
        )
        return _merged(votes, await self._reshares_since(since))

    async def reshares(self) -> Sequence[VoteFact]:
        """Every re-share, oldest first."""
        return _merged((), await self._reshares_since(_EPOCH))

    async def _reshares_since(self, since: str) -> list[Row]:
        return await self._db.fetchall(
            "SELECT s.track_id, s.platform, s.user_id, s.shared_at FROM shares s JOIN tracks t ON t.id = s.track_id"
            " WHERE s.shared_at >= ? AND NOT (s.platform = t.sharer_platform AND s.user_id = t.sharer_id)"
            " ORDER BY s.shared_at",
            (since,),
        )

    async def vote_pages(self) -> AsyncIterator[Sequence[VoteRow]]:
        """Every positive vote, in time order, ``LIKES_PAGE`` at a time.

        A rebuild of the curation index reads every vote (2,000,000 in bench/scale.py); in one
        query every other query of the instance, /healthz and chat commands included, waited
        behind it. A page is one walk of ``track_votes_recent`` (migration 230: it holds the
        member) of a few milliseconds, and the pages follow the unique key (cast_at, track_id,
        platform, user_id), so none is lost or read twice at a page boundary. SQLite turns the
        time into epoch seconds, so no datetime is made per vote.
        """
        after_key = ""
        key: tuple[str, ...] = ()
        while True:  # bounded: each page starts strictly after the last key read
            page = await self._db.fetchall(
                "SELECT track_id, platform, user_id, CAST(strftime('%s', cast_at) AS INTEGER), cast_at"
                f" FROM track_votes INDEXED BY track_votes_recent WHERE value > 0{after_key}"
                " ORDER BY cast_at, track_id, platform, user_id LIMIT ?",
                (*key, LIKES_PAGE),
            )
            yield [cast(VoteRow, r[:4]) for r in page]
            if len(page) < LIKES_PAGE:
                return
            last = page[-1]
            after_key = " AND cast_at >= ? AND (cast_at, track_id, platform, user_id) > (?, ?, ?, ?)"
            key = (last[4], last[4], last[0], last[1], last[2])

    async def likes_of(self, member: Member) -> set[TrackId]:
        """Tracks the member voted on or shared."""
        rows = await self._db.fetchall(
            "SELECT track_id FROM track_votes WHERE platform = ? AND user_id = ?"
            " UNION SELECT track_id FROM shares WHERE platform = ? AND user_id = ?",
            (*member, *member),
        )
        return {TrackId(r[0]) for r in rows}

    async def track_facts_since(self, after: datetime | None) -> Sequence[TrackFact]:
        """Public tracks first seen from ``after`` on."""
        rows = await self._db.fetchall(
            f"SELECT {_FACT_COLUMNS} FROM tracks WHERE first_seen_at >= ? AND {_PUBLIC} ORDER BY first_seen_at",
            (after.isoformat() if after is not None else _EPOCH,),
        )
        return [_track_fact(r) for r in rows]

    async def track_fact_pages(self) -> AsyncIterator[Sequence[TrackFact]]:
        """Every public track in the order stored (rowid), ``TRACKS_PAGE`` at a time."""
        after = 0
        while True:  # bounded: each page starts after the last rowid read
            rows = await self._db.fetchall(
                f"SELECT {_FACT_COLUMNS}, rowid FROM tracks WHERE rowid > ? AND {_PUBLIC} ORDER BY rowid LIMIT ?",
                (after, TRACKS_PAGE),
            )
            yield [_track_fact(r) for r in rows]
            if len(rows) < TRACKS_PAGE:
                return
            after = rows[-1][8]

    async def penalties(self, member: Member) -> Sequence[Penalty]:
        """The member's rejected or taken-down tracks."""
        rows = await self._db.fetchall(
            "SELECT id, title, status, first_seen_at FROM tracks WHERE sharer_platform = ? AND sharer_id = ?"
            " AND (status = 'taken_down' OR verdict = 'rejected')",
            member,
        )
        return [Penalty(TrackId(r[0]), r[1], r[2] == "taken_down", _at(r[3])) for r in rows]

    async def add_boost(self, track_id: TrackId, member: Member, at: datetime) -> bool:
        """Record a boost once per member and track."""
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO curation_boosts(track_id, platform, user_id, at) VALUES (?, ?, ?, ?)",
            (track_id, *member, at.isoformat()),
        )
        return changed > 0

    async def remove_boost(self, track_id: TrackId, member: Member) -> bool:
        """Withdraw a boost."""
        changed = await self._db.execute(
            "DELETE FROM curation_boosts WHERE track_id = ? AND platform = ? AND user_id = ?", (track_id, *member)
        )
        return changed > 0

    async def boosters(self, track_id: TrackId) -> Sequence[Member]:
        """Who boosted a track, earliest first."""
        rows = await self._db.fetchall(
            "SELECT platform, user_id FROM curation_boosts WHERE track_id = ? ORDER BY at", (track_id,)
        )
        return [(r[0], r[1]) for r in rows]

    async def boost_counts(self, track_ids: Sequence[TrackId]) -> dict[TrackId, int]:
        """Boosts per track."""
        if not track_ids:
            return {}
        marks = ", ".join("?" * len(track_ids))
        rows = await self._db.fetchall(
            f"SELECT track_id, count(*) FROM curation_boosts WHERE track_id IN ({marks}) GROUP BY track_id",
            tuple(track_ids),
        )
        return {TrackId(r[0]): int(r[1]) for r in rows}

    async def set_peer_boosts(self, cid: Cid, origin: str, count: int, at: datetime) -> bool:
        """Keep the newest signed count from the track's origin."""
        changed = await self._db.execute(
            "INSERT INTO curation_peer_boosts(cid, origin, count, at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(cid) DO UPDATE SET count = excluded.count, at = excluded.at"
            " WHERE excluded.at > curation_peer_boosts.at AND excluded.origin = curation_peer_boosts.origin",
            (cid, origin, count, at.isoformat()),
        )
        return changed > 0

    async def peer_boosts(self, cid: Cid) -> int:
        """A peer's signed boost count of a track."""
        row = await self._db.fetchone("SELECT count FROM curation_peer_boosts WHERE cid = ?", (cid,))
        return int(row[0]) if row else 0

    async def add_link(self, link: LineageLink) -> None:
        """Record a child's parent (the first link of a child stays)."""
        await self._db.execute(
            "INSERT OR IGNORE INTO curation_lineage(child_id, child_cid, parent_cid, relation, at)"
            " VALUES (?, ?, ?, ?, ?)",
            (link.child_id, link.child_cid, link.parent_cid, link.relation.value, link.at.isoformat()),
        )

    async def parent_of(self, child_id: TrackId) -> LineageLink | None:
        """A child's link."""
        row = await self._db.fetchone(
            "SELECT child_id, child_cid, parent_cid, relation, at FROM curation_lineage WHERE child_id = ?",
            (child_id,),
        )
        return _link(row) if row else None

    async def children_of(self, parent_cid: Cid) -> Sequence[LineageLink]:
        """A parent's children, oldest first."""
        rows = await self._db.fetchall(
            "SELECT child_id, child_cid, parent_cid, relation, at FROM curation_lineage WHERE parent_cid = ?"
            " ORDER BY at",
            (parent_cid,),
        )
        return [_link(r) for r in rows]

    async def most_remixed(self, since: datetime, limit: int) -> Sequence[tuple[Cid, int]]:
        """Parents with the most children linked since a time (stems do not count as remixes)."""
        rows = await self._db.fetchall(
            "SELECT parent_cid, count(*) FROM curation_lineage WHERE at >= ? AND relation != 'stems'"
            " GROUP BY parent_cid ORDER BY count(*) DESC, min(at) LIMIT ?",
            (since.isoformat(), limit),
        )
        return [(Cid(r[0]), int(r[1])) for r in rows]

    async def add_play(self, track_id: TrackId, at: datetime) -> None:
        """Count a web play (no address, no member: only the track and the time)."""
        await self._db.execute("INSERT INTO curation_web_plays(track_id, at) VALUES (?, ?)", (track_id, at.isoformat()))

    async def plays_since(self, after: datetime | None) -> Sequence[tuple[TrackId, datetime]]:
        """Plays after ``after``, oldest first (an indexed range read)."""
        rows = await self._db.fetchall(
            "SELECT track_id, at FROM curation_web_plays WHERE at > ? ORDER BY at",
            ("" if after is None else after.isoformat(),),
        )
        return [(TrackId(r[0]), _at(r[1])) for r in rows]

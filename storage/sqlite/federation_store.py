"""``core.federation.ports.FederationStore`` on SQLite."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from core.federation.ports import ManifestRow, OutboxItem, Peer, PeerStats, QueueItem
from core.model import Cid, TrackId
from storage.sqlite.database import Database, Row

# entries: tracks of that instance in the federation (published or replicated), still up. One
# pass over the peers' manifests through fed_manifests_origin (migration 220), not two reads of
# every stored manifest per peer (~5 KB each: 0.1 s at 1,000 tracks, seconds at 100,000).
PEER_STATS = (
    "SELECT p.*, coalesce(s.entries, 0) AS entries, coalesce(s.bytes, 0) AS bytes FROM fed_peers p"
    " LEFT JOIN (SELECT m.origin, count(*) AS entries, sum(t.size) AS bytes"
    " FROM fed_manifests m INDEXED BY fed_manifests_origin JOIN tracks t ON t.id = m.track_id"
    " WHERE m.origin IN (SELECT instance_id FROM fed_peers) AND t.status = 'active' GROUP BY m.origin) s"
    " ON s.origin = p.instance_id ORDER BY p.name"
)


def _peer(row: Row) -> Peer:
    return Peer(
        row["instance_id"],
        row["user_id"],
        row["public_key"],
        row["name"],
        row["community"],
        row["homepage"],
        datetime.fromisoformat(row["first_seen"]),
        datetime.fromisoformat(row["last_seen"]),
    )


def _item(row: Row) -> QueueItem:
    return QueueItem(
        TrackId(row["track_id"]),
        Cid(row["cid"]),
        json.loads(row["manifest"]),
        tuple(json.loads(row["sources"])),
        int(row["attempts"]),
        row["last_error"],
    )


class SqliteFederationStore:
    """Peers, manifests, the fetch queue, the outbox and processed events."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def atomic(self) -> AbstractAsyncContextManager[Any]:
        """One transaction for the writes inside (tracks share the database)."""
        return self._db.transaction()

    async def upsert_peer(self, peer: Peer, at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO fed_peers(instance_id, user_id, public_key, name, community, homepage, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(instance_id) DO UPDATE SET name = excluded.name,"
            " community = excluded.community, homepage = excluded.homepage, last_seen = excluded.last_seen",
            (
                peer.instance_id,
                peer.user_id,
                peer.public_key,
                peer.name,
                peer.community,
                peer.homepage,
                at.isoformat(),
                at.isoformat(),
            ),
        )

    async def peer_by_user(self, user_id: str) -> Peer | None:
        row = await self._db.fetchone(
            "SELECT * FROM fed_peers WHERE user_id = ? AND retired_at IS NULL ORDER BY first_seen LIMIT 1", (user_id,)
        )
        return _peer(row) if row else None

    async def rotate_peer(self, previous_instance_id: str, peer: Peer, at: datetime) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                "UPDATE fed_peers SET retired_at = ? WHERE instance_id = ? AND retired_at IS NULL",
                (at.isoformat(), previous_instance_id),
            )
            await self.upsert_peer(peer, at)
            await tx.execute("UPDATE fed_peers SET retired_at = NULL WHERE instance_id = ?", (peer.instance_id,))

    async def peer_by_instance(self, instance_id: str) -> Peer | None:
        row = await self._db.fetchone("SELECT * FROM fed_peers WHERE instance_id = ?", (instance_id,))
        return _peer(row) if row else None

    async def touch_peer(self, user_id: str, at: datetime) -> None:
        await self._db.execute("UPDATE fed_peers SET last_seen = ? WHERE user_id = ?", (at.isoformat(), user_id))

    async def peer_stats(self) -> Sequence[PeerStats]:
        rows = await self._db.fetchall(PEER_STATS)
        return [PeerStats(_peer(r), int(r["entries"]), int(r["bytes"])) for r in rows]

    async def seen(self, event_id: str) -> bool:
        return await self._db.fetchone("SELECT 1 FROM fed_seen WHERE event_id = ?", (event_id,)) is not None

    async def mark_seen(self, event_id: str) -> bool:
        return await self._db.execute("INSERT OR IGNORE INTO fed_seen(event_id) VALUES (?)", (event_id,)) == 1

    async def seen_many(self, event_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(event_ids))):
            rows = await self._db.fetchall(
                f"SELECT event_id FROM fed_seen WHERE event_id IN ({', '.join('?' * len(chunk))})", chunk
            )
            found |= {str(r[0]) for r in rows}
        return found

    async def mark_seen_many(self, event_ids: Sequence[str]) -> set[str]:
        fresh: set[str] = set()
        async with self._db.transaction() as tx:  # one trip per 500 ids: RETURNING names the rows inserted
            for chunk in _chunks(list(dict.fromkeys(event_ids))):
                rows = await tx.fetchall(
                    f"INSERT OR IGNORE INTO fed_seen(event_id) VALUES {', '.join(['(?)'] * len(chunk))} RETURNING event_id",
                    chunk,
                )
                fresh |= {str(r[0]) for r in rows}
        return fresh

    async def save_manifest(
        self, track_id: TrackId, cid: Cid, origin: str, manifest: Mapping[str, Any], event_id: str | None
    ) -> None:
        await self._db.execute(
            "INSERT INTO fed_manifests(track_id, cid, origin, manifest, event_id) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(track_id) DO UPDATE SET event_id = coalesce(excluded.event_id, fed_manifests.event_id)",
            (track_id, cid, origin, json.dumps(manifest, sort_keys=True), event_id),
        )

    async def save_manifests(self, rows: Sequence[ManifestRow]) -> None:
        await self._db.executemany(
            "INSERT INTO fed_manifests(track_id, cid, origin, manifest, event_id) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(track_id) DO UPDATE SET event_id = coalesce(excluded.event_id, fed_manifests.event_id)",
            [(t, c, o, json.dumps(m, sort_keys=True), e) for t, c, o, m, e in rows],
        )

    async def manifest(self, track_id: TrackId) -> Mapping[str, Any] | None:
        row = await self._db.fetchone("SELECT manifest FROM fed_manifests WHERE track_id = ?", (track_id,))
        return json.loads(row[0]) if row else None

    async def manifests(self) -> AsyncIterator[Mapping[str, Any]]:
        """Every stored manifest except those of tracks taken down here."""
        last = 0
        while True:
            rows = await self._db.fetchall(
                "SELECT m.rowid, m.manifest FROM fed_manifests m LEFT JOIN tracks t ON t.id = m.track_id"
                " WHERE m.rowid > ? AND (t.status IS NULL OR t.status = 'active') ORDER BY m.rowid LIMIT 1000",
                (last,),
            )
            if not rows:
                return
            for row in rows:
                yield json.loads(row[1])
            last = int(rows[-1][0])

    async def track_for_event(self, event_id: str) -> TrackId | None:
        row = await self._db.fetchone("SELECT track_id FROM fed_manifests WHERE event_id = ?", (event_id,))
        return TrackId(row[0]) if row else None

    async def save_event_time(self, track_id: TrackId, origin_server_ts: int) -> None:
        await self._db.execute(  # fed_event_times: migration 131 (issue 12)
            "INSERT INTO fed_event_times(track_id, origin_server_ts) VALUES (?, ?) ON CONFLICT(track_id)"
            " DO UPDATE SET origin_server_ts = min(origin_server_ts, excluded.origin_server_ts)",
            (track_id, origin_server_ts),
        )

    async def save_event_times(self, times: Sequence[tuple[TrackId, int]]) -> None:
        await self._db.executemany(
            "INSERT INTO fed_event_times(track_id, origin_server_ts) VALUES (?, ?) ON CONFLICT(track_id)"
            " DO UPDATE SET origin_server_ts = min(origin_server_ts, excluded.origin_server_ts)",
            times,
        )

    async def event_time(self, track_id: TrackId) -> int | None:
        row = await self._db.fetchone("SELECT origin_server_ts FROM fed_event_times WHERE track_id = ?", (track_id,))
        return int(row[0]) if row else None

    async def set_manifest_event(self, track_id: TrackId, event_id: str) -> None:
        await self._db.execute("UPDATE fed_manifests SET event_id = ? WHERE track_id = ?", (event_id, track_id))

    async def enqueue(self, item: QueueItem, due: datetime) -> bool:
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO fed_queue(track_id, cid, manifest, sources, attempts, due, state)"
            " VALUES (?, ?, ?, ?, 0, ?, 'pending')",
            (item.track_id, item.cid, json.dumps(item.manifest), json.dumps(list(item.sources)), due.isoformat()),
        )
        if changed:
            for row in await self._db.fetchall("SELECT source FROM fed_sources WHERE cid = ?", (item.cid,)):
                await self._merge_source(item.track_id, json.loads(row[0]))
        return changed == 1

    async def enqueue_many(self, items: Sequence[tuple[QueueItem, datetime]]) -> set[TrackId]:
        queued: set[TrackId] = set()
        async with self._db.transaction() as tx:
            for chunk in _chunks(list(items), 100):
                rows = await tx.fetchall(
                    "INSERT OR IGNORE INTO fed_queue(track_id, cid, manifest, sources, attempts, due, state)"
                    f" VALUES {', '.join(['(?, ?, ?, ?, 0, ?, ?)'] * len(chunk))} RETURNING track_id, cid",
                    [
                        value
                        for item, due in chunk
                        for value in (
                            item.track_id,
                            item.cid,
                            json.dumps(item.manifest),
                            json.dumps(list(item.sources)),
                            due.isoformat(),
                            "pending",
                        )
                    ],
                )
                fresh = {TrackId(r[0]): Cid(r[1]) for r in rows}
                queued |= set(fresh)
                # holders announced before the track (rare): one read for the chunk, not one per item
                cids = sorted(set(fresh.values()))
                known = (
                    await tx.fetchall(
                        f"SELECT cid, source FROM fed_sources WHERE cid IN ({', '.join('?' * len(cids))})", cids
                    )
                    if cids
                    else []
                )
                for row in known:
                    for track_id in [t for t, c in fresh.items() if c == row[0]]:
                        await self._merge_source(track_id, json.loads(row[1]))
        return queued

    async def _merge_source(self, track_id: TrackId, source: Mapping[str, str]) -> None:
        row = await self._db.fetchone("SELECT sources FROM fed_queue WHERE track_id = ?", (track_id,))
        if row is None:
            return
        sources = json.loads(row[0])
        if dict(source) not in sources:
            sources.append(dict(source))
            await self._db.execute(
                "UPDATE fed_queue SET sources = ? WHERE track_id = ?", (json.dumps(sources), track_id)
            )

    async def add_source(self, cid: Cid, source: Mapping[str, str]) -> None:
        await self._db.execute(
            "INSERT OR IGNORE INTO fed_sources(cid, source) VALUES (?, ?)",
            (cid, json.dumps(dict(source), sort_keys=True)),
        )
        for row in await self._db.fetchall("SELECT track_id FROM fed_queue WHERE cid = ?", (cid,)):
            await self._merge_source(TrackId(row[0]), source)
            await self._db.execute(
                "UPDATE fed_queue SET due = ? WHERE track_id = ? AND state = 'pending'", ("0000", row[0])
            )

    async def due(self, now: datetime, limit: int, exclude: Collection[TrackId] = ()) -> Sequence[QueueItem]:
        """Fetches due by ``now``, soonest first, leaving out ``exclude`` (those already under way).

        The fetch loop asks again every few blobs while its earlier items are still queued:
        leaving them out in SQL spares reading and decoding their manifests each time."""
        if not exclude:
            rows = await self._db.fetchall(
                "SELECT * FROM fed_queue WHERE state = 'pending' AND due <= ? ORDER BY due LIMIT ?",
                (now.isoformat(), limit),
            )
        else:
            rows = await self._db.fetchall(
                "SELECT * FROM fed_queue WHERE state = 'pending' AND due <= ?"
                " AND track_id NOT IN (SELECT value FROM json_each(?)) ORDER BY due LIMIT ?",
                (now.isoformat(), json.dumps(list(exclude)), limit),
            )
        return [_item(r) for r in rows]

    async def recorded(self, track_ids: Iterable[TrackId]) -> set[TrackId]:
        ids = list(track_ids)
        if not ids:
            return set()
        found: set[TrackId] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = await self._db.fetchall(f"SELECT id FROM tracks WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
            found |= {TrackId(r[0]) for r in rows}
        return found

    async def finish(self, track_id: TrackId) -> None:
        await self._db.execute("DELETE FROM fed_queue WHERE track_id = ?", (track_id,))

    async def finish_many(self, track_ids: Sequence[TrackId]) -> None:
        await self._db.executemany("DELETE FROM fed_queue WHERE track_id = ?", [(t,) for t in track_ids])

    async def retry_later(self, track_id: TrackId, error: str, due: datetime) -> None:
        await self._db.execute(
            "UPDATE fed_queue SET attempts = attempts + 1, last_error = ?, due = ? WHERE track_id = ?",
            (error, due.isoformat(), track_id),
        )

    async def queue_size(self) -> int:
        row = await self._db.fetchone("SELECT count(*) FROM fed_queue WHERE state = 'pending'")
        return int(row[0]) if row else 0

    async def failures(self, limit: int) -> Sequence[QueueItem]:
        rows = await self._db.fetchall(
            "SELECT * FROM fed_queue WHERE attempts > 0 AND state = 'pending' ORDER BY attempts DESC LIMIT ?",
            (limit,),
        )
        return [_item(r) for r in rows]

    async def park_fetch(self, track_id: TrackId, error: str) -> None:
        await self._db.execute(
            "UPDATE fed_queue SET state = 'parked', attempts = attempts + 1, last_error = ? WHERE track_id = ?",
            (error, track_id),
        )

    async def parked_fetches(self, limit: int) -> Sequence[QueueItem]:
        rows = await self._db.fetchall(
            "SELECT * FROM fed_queue WHERE state = 'parked' ORDER BY track_id LIMIT ?", (limit,)
        )
        return [_item(r) for r in rows]

    async def retry_fetches(self, track_id: TrackId | None) -> int:
        where, params = (
            ("state = 'parked'", ()) if track_id is None else ("state = 'parked' AND track_id = ?", (track_id,))
        )
        return await self._db.execute(
            f"UPDATE fed_queue SET state = 'pending', attempts = 0, due = '0000' WHERE {where}", params
        )

    async def drop_fetch(self, track_id: TrackId) -> bool:
        return await self._db.execute("DELETE FROM fed_queue WHERE track_id = ?", (track_id,)) == 1

    async def queue_counts(self) -> Mapping[str, int]:
        rows = await self._db.fetchall(
            "SELECT CASE WHEN state = 'parked' THEN 'parked' WHEN attempts > 0 THEN 'retrying' ELSE 'waiting' END,"
            " count(*) FROM fed_queue GROUP BY 1"
        )
        return {"waiting": 0, "retrying": 0, "parked": 0} | {str(r[0]): int(r[1]) for r in rows}

    async def outbox_add(self, kind: str, content: Mapping[str, Any]) -> int:
        return await self._db.insert("INSERT INTO fed_outbox(kind, content) VALUES (?, ?)", (kind, json.dumps(content)))

    async def outbox_add_many(self, kind: str, contents: Sequence[Mapping[str, Any]]) -> None:
        await self._db.executemany(
            "INSERT INTO fed_outbox(kind, content) VALUES (?, ?)", [(kind, json.dumps(c)) for c in contents]
        )

    async def outbox_pending(self, limit: int) -> Sequence[tuple[int, str, Mapping[str, Any]]]:
        rows = await self._db.fetchall(
            "SELECT id, kind, content FROM fed_outbox WHERE state = 'pending' ORDER BY id LIMIT ?", (limit,)
        )
        return [(int(r[0]), r[1], json.loads(r[2])) for r in rows]

    async def outbox_done(self, item_id: int) -> None:
        await self._db.execute("DELETE FROM fed_outbox WHERE id = ?", (item_id,))

    async def outbox_park(self, item_id: int, error: str) -> None:
        await self._db.execute("UPDATE fed_outbox SET state = 'parked', last_error = ? WHERE id = ?", (error, item_id))

    async def outbox_parked(self, limit: int) -> Sequence[OutboxItem]:
        rows = await self._db.fetchall(
            "SELECT id, kind, content, last_error FROM fed_outbox WHERE state = 'parked' ORDER BY id LIMIT ?", (limit,)
        )
        return [OutboxItem(int(r[0]), r[1], json.loads(r[2]), r[3]) for r in rows]

    async def outbox_retry(self, item_id: int | None) -> int:
        where, params = ("state = 'parked'", ()) if item_id is None else ("state = 'parked' AND id = ?", (item_id,))
        return await self._db.execute(
            f"UPDATE fed_outbox SET state = 'pending', last_error = NULL WHERE {where}", params
        )

    async def outbox_drop(self, item_id: int) -> bool:
        return await self._db.execute("DELETE FROM fed_outbox WHERE id = ?", (item_id,)) == 1


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    """Pieces small enough for SQLite's bound-parameter limit."""
    return [values[start : start + size] for start in range(0, len(values), size)]

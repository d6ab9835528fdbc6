"""``core.federated_round_ports.FederatedRoundStore`` on SQLite."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.federated_round_model import (
    EntryCount,
    FederatedRound,
    Member,
    Participation,
    RoundEntry,
    Tally,
    TallyStatus,
)
from core.voting_model import BallotType
from storage.sqlite.database import Database, Row

_ROUND = (
    "SELECT id, organiser, organiser_name, room, rules, submit_until, vote_until, tally_until, participation,"
    " local_round, results_at, tally_sent, announced_at FROM fr_rounds"
)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _round(row: Row) -> FederatedRound:
    rules = json.loads(row["rules"])
    return FederatedRound(
        id=row["id"],
        organiser=row["organiser"],
        organiser_name=row["organiser_name"],
        room=row["room"],
        theme=rules["theme"],
        ballot=BallotType(rules["ballot"]),
        max_approvals=int(rules["max_approvals"]),
        entries_per_member=int(rules["entries_per_member"]),
        anonymous=bool(rules["anonymous"]),
        genre=rules.get("genre"),
        min_account_age_days=float(rules["min_account_age_days"]),
        cap_share=float(rules["cap_share"]) if rules.get("cap_share") is not None else None,
        submit_until=datetime.fromisoformat(row["submit_until"]),
        vote_until=datetime.fromisoformat(row["vote_until"]),
        tally_until=datetime.fromisoformat(row["tally_until"]),
        participation=Participation(row["participation"]),
        local_round=row["local_round"],
        results_at=_time(row["results_at"]),
        tally_sent=bool(row["tally_sent"]),
        announced_at=_time(row["announced_at"]),
    )


def _tally(row: Row) -> Tally:
    return Tally(
        round_id=row["round_id"],
        instance=row["instance"],
        name=row["name"],
        voters=int(row["voters"]),
        active_members=int(row["active_members"]),
        counts=tuple(EntryCount(c["cid"], int(c["voters"]), int(c["total"])) for c in json.loads(row["counts"])),
        sent_at=datetime.fromisoformat(row["sent_at"]),
        status=TallyStatus(row["status"]),
        event_id=row["event_id"],
        late_marked=bool(row["late_marked"]),
    )


class SqliteFederatedRoundStore:
    """Federated rounds, opt-ins, entries, tallies and their outbox in the instance database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_round(self, rnd: FederatedRound) -> bool:
        rules = {
            "theme": rnd.theme,
            "ballot": rnd.ballot.value,
            "max_approvals": rnd.max_approvals,
            "entries_per_member": rnd.entries_per_member,
            "anonymous": rnd.anonymous,
            "genre": rnd.genre,
            "min_account_age_days": rnd.min_account_age_days,
            "cap_share": rnd.cap_share,
        }
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO fr_rounds (id, organiser, organiser_name, room, rules, submit_until, vote_until,"
            " tally_until, participation, local_round, results_at, tally_sent, announced_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rnd.id,
                rnd.organiser,
                rnd.organiser_name,
                rnd.room,
                json.dumps(rules),
                rnd.submit_until.isoformat(),
                rnd.vote_until.isoformat(),
                rnd.tally_until.isoformat(),
                rnd.participation.value,
                rnd.local_round,
                rnd.results_at.isoformat() if rnd.results_at else None,
                int(rnd.tally_sent),
                rnd.announced_at.isoformat() if rnd.announced_at else None,
            ),
        )
        return changed > 0

    async def get_round(self, round_id: str) -> FederatedRound | None:
        row = await self._db.fetchone(_ROUND + " WHERE id = ?", (round_id,))
        return _round(row) if row else None

    async def by_local_round(self, local_round: int) -> FederatedRound | None:
        row = await self._db.fetchone(_ROUND + " WHERE local_round = ? ORDER BY rowid DESC", (local_round,))
        return _round(row) if row else None

    async def open_rounds(self) -> Sequence[FederatedRound]:
        return [_round(r) for r in await self._db.fetchall(_ROUND + " WHERE results_at IS NULL ORDER BY rowid")]

    async def recent_rounds(self, limit: int) -> Sequence[FederatedRound]:
        return [_round(r) for r in await self._db.fetchall(_ROUND + " ORDER BY rowid DESC LIMIT ?", (limit,))]

    async def set_participation(self, round_id: str, participation: Participation, local_round: int | None) -> None:
        await self._db.execute(
            "UPDATE fr_rounds SET participation = ?, local_round = ? WHERE id = ?",
            (participation.value, local_round, round_id),
        )

    async def set_tally_sent(self, round_id: str) -> None:
        await self._db.execute("UPDATE fr_rounds SET tally_sent = 1 WHERE id = ?", (round_id,))

    async def set_results_at(self, round_id: str, at: datetime) -> None:
        await self._db.execute("UPDATE fr_rounds SET results_at = ? WHERE id = ?", (at.isoformat(), round_id))

    async def set_deadlines(
        self, round_id: str, submit_until: datetime, vote_until: datetime, tally_until: datetime
    ) -> None:
        await self._db.execute(
            "UPDATE fr_rounds SET submit_until = ?, vote_until = ?, tally_until = ? WHERE id = ?",
            (submit_until.isoformat(), vote_until.isoformat(), tally_until.isoformat(), round_id),
        )

    async def set_member(self, member: Member) -> bool:
        changed = await self._db.execute(
            "INSERT INTO fr_members (round_id, instance, name, joined, sent_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (round_id, instance) DO UPDATE SET name = excluded.name, joined = excluded.joined,"
            " sent_at = excluded.sent_at WHERE excluded.sent_at >= fr_members.sent_at",
            (member.round_id, member.instance, member.name, int(member.joined), member.sent_at.isoformat()),
        )
        return changed > 0

    async def members(self, round_id: str) -> Sequence[Member]:
        rows = await self._db.fetchall(
            "SELECT round_id, instance, name, joined, sent_at FROM fr_members WHERE round_id = ? ORDER BY instance",
            (round_id,),
        )
        return [
            Member(r["round_id"], r["instance"], r["name"], bool(r["joined"]), datetime.fromisoformat(r["sent_at"]))
            for r in rows
        ]

    async def add_entry(self, entry: RoundEntry) -> bool:
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO fr_entries (round_id, cid, track_id, origin, submitter, submitter_name, sent_at,"
            " title) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.round_id,
                entry.cid,
                entry.track_id,
                entry.origin,
                entry.submitter,
                entry.submitter_name,
                entry.sent_at.isoformat(),
                entry.title,
            ),
        )
        return changed > 0

    async def entries(self, round_id: str) -> Sequence[RoundEntry]:
        rows = await self._db.fetchall(
            "SELECT round_id, cid, track_id, origin, submitter, submitter_name, sent_at, title FROM fr_entries"
            " WHERE round_id = ? ORDER BY cid",
            (round_id,),
        )
        return [
            RoundEntry(
                r["round_id"],
                r["cid"],
                r["track_id"],
                r["origin"],
                r["submitter"],
                r["submitter_name"],
                datetime.fromisoformat(r["sent_at"]),
                r["title"],
            )
            for r in rows
        ]

    async def add_tally(self, tally: Tally) -> bool:
        counts = [{"cid": c.cid, "voters": c.voters, "total": c.total} for c in tally.counts]
        changed = await self._db.execute(
            "INSERT OR IGNORE INTO fr_tallies (round_id, event_id, instance, name, voters, active_members, counts,"
            " sent_at, status, late_marked) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tally.round_id,
                tally.event_id,
                tally.instance,
                tally.name,
                tally.voters,
                tally.active_members,
                json.dumps(counts),
                tally.sent_at.isoformat(),
                tally.status.value,
                int(tally.late_marked),
            ),
        )
        return changed > 0

    async def tallies(self, round_id: str) -> Sequence[Tally]:
        rows = await self._db.fetchall(
            "SELECT round_id, event_id, instance, name, voters, active_members, counts, sent_at, status, late_marked"
            " FROM fr_tallies WHERE round_id = ? ORDER BY sent_at, instance, event_id",
            (round_id,),
        )
        return [_tally(r) for r in rows]

    async def active_members(self, since: datetime, until: datetime) -> int:
        window = (since.isoformat(), until.isoformat())
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM ("
            " SELECT platform, user_id FROM shares WHERE shared_at >= ? AND shared_at < ?"
            " UNION SELECT platform, user_id FROM track_votes WHERE cast_at >= ? AND cast_at < ?"
            " UNION SELECT platform, user_id FROM ballots WHERE cast_at >= ? AND cast_at < ?"
            ") WHERE platform != 'federation'",
            window * 3,
        )
        return int(row["n"]) if row else 0

    async def outbox_add(self, room: str, kind: str, payload: Mapping[str, Any]) -> int:
        return await self._db.insert(
            "INSERT INTO fr_outbox (room, kind, payload) VALUES (?, ?, ?)", (room, kind, json.dumps(payload))
        )

    async def outbox_pending(self, limit: int) -> Sequence[tuple[int, str, str, Mapping[str, Any]]]:
        rows = await self._db.fetchall("SELECT id, room, kind, payload FROM fr_outbox ORDER BY id LIMIT ?", (limit,))
        return [(int(r["id"]), r["room"], r["kind"], json.loads(r["payload"])) for r in rows]

    async def outbox_done(self, item_id: int) -> None:
        await self._db.execute("DELETE FROM fr_outbox WHERE id = ?", (item_id,))

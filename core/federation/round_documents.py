"""The signed documents of cross-community rounds, and reading them back.

Every document names the round and its sender (``origin.instance``) and is signed like a
manifest (``core.federation.manifest.sign``). Readers take times that decide what counts
(opt-in before voting, tally before the tally deadline) from the homeserver's
``origin_server_ts``, which every instance sees the same, not from the sender's word.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.errors import IntegrityError
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

VERSION = 1
MAX_COUNTS = 5000  # entries in one tally


def organiser_doc(fed: FederatedRound, kind: str, at: datetime, **fields: Any) -> dict[str, Any]:
    """A document the organiser signs about its round: the common fields, then ``fields``."""
    return {
        "v": VERSION,
        "kind": kind,
        "round": fed.id,
        "origin": {"instance": fed.organiser, "name": fed.organiser_name},
        **fields,
        "at": at.isoformat(),
    }


def phases_of(fed: FederatedRound) -> dict[str, str]:
    """The round's absolute deadlines, as announced and as updated."""
    return {
        "submit_until": fed.submit_until.isoformat(),
        "vote_until": fed.vote_until.isoformat(),
        "tally_until": fed.tally_until.isoformat(),
    }


def announcement_doc(fed: FederatedRound, at: datetime) -> dict[str, Any]:
    """The unsigned announcement: theme, phases with absolute deadlines, ballot and entry rules."""
    return organiser_doc(
        fed,
        "round",
        at,
        theme=fed.theme[:300],
        ballot={"kind": fed.ballot.value, "max_approvals": fed.max_approvals},
        entry_rules={
            "entries_per_member": fed.entries_per_member,
            "genre": fed.genre,
            "min_account_age_days": fed.min_account_age_days,
        },
        anonymous=fed.anonymous,
        cap_share=fed.cap_share,
        phases=phases_of(fed),
    )


def member_doc(round_id: str, instance: str, name: str, joined: bool, at: datetime) -> dict[str, Any]:
    """An opt-in (``joined``) or a leave."""
    return {
        "v": VERSION,
        "kind": "round_member",
        "round": round_id,
        "origin": {"instance": instance, "name": name},
        "joined": joined,
        "at": at.isoformat(),
    }


def entry_doc(entry: RoundEntry, name: str, at: datetime) -> dict[str, Any]:
    """A participant's entry: the CID, the track id (its manifest) and the member's pseudonym."""
    return {
        "v": VERSION,
        "kind": "round_entry",
        "round": entry.round_id,
        "origin": {"instance": entry.origin, "name": name},
        "cid": entry.cid,
        "track_id": entry.track_id,
        "submitter": {"id": entry.submitter, "name": entry.submitter_name},
        "title": (entry.title or "")[:200],
        "at": at.isoformat(),
    }


def tally_doc(instance: str, name: str, payload: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """A tally: voters, active members, and per entry CID the voters and the sum of values."""
    return {
        "v": VERSION,
        "kind": "round_tally",
        "round": payload["round"],
        "origin": {"instance": instance, "name": name},
        "voters": int(payload["voters"]),
        "active_members": int(payload["active_members"]),
        "counts": [
            {"cid": str(c["cid"]), "voters": int(c["voters"]), "total": int(c["total"])} for c in payload["counts"]
        ],
        "late": bool(payload.get("late")),
        "at": at.isoformat(),
    }


def server_time(event: Mapping[str, Any]) -> datetime:
    """The homeserver's timestamp of a Matrix event."""
    ts = event.get("origin_server_ts")
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise IntegrityError("event without a server timestamp")
    return datetime.fromtimestamp(ts / 1000, UTC)


def origin_of(doc: Mapping[str, Any]) -> tuple[str, str]:
    """(instance, name) a document claims to come from."""
    origin = doc.get("origin")
    if not isinstance(origin, Mapping) or not isinstance(origin.get("instance"), str):
        raise IntegrityError("document without an origin")
    return str(origin["instance"]), str(origin.get("name") or origin["instance"])[:100]


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("a time without a time zone")
    return moment.astimezone(UTC)


def _cap(value: Any) -> float | None:
    if value is None:
        return None
    cap = float(value)
    if not 0 < cap <= 1:
        raise ValueError("cap_share out of range")
    return cap


def read_announcement(doc: Mapping[str, Any], room: str) -> FederatedRound:
    """A peer's announcement as an invited round."""
    try:
        instance, name = origin_of(doc)
        round_id = str(doc["round"])
        if not round_id.startswith(instance + ":"):
            raise ValueError("the round id is not the origin's")
        phases, ballot, rules = doc["phases"], doc["ballot"], doc["entry_rules"]
        submit_until, vote_until, tally_until = (
            _time(phases["submit_until"]),
            _time(phases["vote_until"]),
            _time(phases["tally_until"]),
        )
        if not submit_until < vote_until <= tally_until:
            raise ValueError("phases out of order")
        return FederatedRound(
            id=round_id,
            organiser=instance,
            organiser_name=name,
            room=room,
            theme=str(doc["theme"])[:300],
            ballot=BallotType(ballot["kind"]),
            max_approvals=max(1, min(25, int(ballot.get("max_approvals", 3)))),
            entries_per_member=max(1, min(10, int(rules.get("entries_per_member", 1)))),
            anonymous=bool(doc.get("anonymous")),
            genre=str(rules["genre"]) if rules.get("genre") else None,
            min_account_age_days=float(rules.get("min_account_age_days") or 0.0),
            cap_share=_cap(doc.get("cap_share")),
            submit_until=submit_until,
            vote_until=vote_until,
            tally_until=tally_until,
            participation=Participation.INVITED,
            announced_at=_time(doc["at"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise IntegrityError(f"malformed round announcement: {error}") from error


def read_member(doc: Mapping[str, Any], sent_at: datetime) -> Member:
    """An opt-in or leave."""
    try:
        instance, name = origin_of(doc)
        return Member(str(doc["round"]), instance, name, bool(doc["joined"]), sent_at)
    except (KeyError, TypeError, ValueError) as error:
        raise IntegrityError(f"malformed opt-in: {error}") from error


def read_entry(doc: Mapping[str, Any], sent_at: datetime) -> RoundEntry:
    """A participant's entry."""
    try:
        instance, _name = origin_of(doc)
        submitter = doc["submitter"]
        name = submitter.get("name")
        return RoundEntry(
            str(doc["round"]),
            str(doc["cid"]),
            str(doc["track_id"]),
            instance,
            str(submitter["id"])[:64],
            str(name)[:100] if name else None,
            sent_at,
            str(doc.get("title") or "")[:200] or None,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise IntegrityError(f"malformed round entry: {error}") from error


def read_tally(doc: Mapping[str, Any], sent_at: datetime, event_id: str, status: TallyStatus) -> Tally:
    """A tally as received (``status`` says whether its signature held)."""
    try:
        instance, name = origin_of(doc)
        counts = doc["counts"]
        if not isinstance(counts, list) or len(counts) > MAX_COUNTS:
            raise ValueError("counts is not a list of entries")
        parsed = tuple(EntryCount(str(c["cid"]), int(c["voters"]), int(c["total"])) for c in counts)
        if any(c.voters < 0 or c.total < 0 for c in parsed) or len({c.cid for c in parsed}) != len(parsed):
            raise ValueError("negative or repeated counts")
        voters = int(doc["voters"])
        if voters < 0 or any(c.voters > voters for c in parsed):
            raise ValueError("an entry has more voters than the tally")
        return Tally(
            round_id=str(doc["round"]),
            instance=instance,
            name=name,
            voters=voters,
            active_members=int(doc.get("active_members") or 0),
            counts=parsed,
            sent_at=sent_at,
            status=status,
            event_id=event_id,
            late_marked=bool(doc.get("late")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise IntegrityError(f"malformed tally: {error}") from error

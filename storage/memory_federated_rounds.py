"""Federated rounds in memory, for unit tests: ``core.federated_round_ports.FederatedRoundStore``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.federated_round_model import FederatedRound, Member, Participation, RoundEntry, Tally


class MemoryFederatedRoundStore:
    """Dictionaries; ``active`` is the answer ``active_members`` gives."""

    def __init__(self, active: int = 100) -> None:
        self.rounds: dict[str, FederatedRound] = {}
        self._members: dict[tuple[str, str], Member] = {}
        self._entries: dict[tuple[str, str], RoundEntry] = {}
        self._tallies: dict[tuple[str, str], Tally] = {}
        self.outbox: list[tuple[int, str, str, Mapping[str, Any]]] = []
        self._next = 1
        self.active = active

    async def save_round(self, rnd: FederatedRound) -> bool:
        if rnd.id in self.rounds:
            return False
        self.rounds[rnd.id] = rnd
        return True

    async def get_round(self, round_id: str) -> FederatedRound | None:
        return self.rounds.get(round_id)

    async def by_local_round(self, local_round: int) -> FederatedRound | None:
        found = [r for r in self.rounds.values() if r.local_round == local_round]
        return found[-1] if found else None

    async def open_rounds(self) -> Sequence[FederatedRound]:
        return [r for r in self.rounds.values() if r.results_at is None]

    async def recent_rounds(self, limit: int) -> Sequence[FederatedRound]:
        return list(reversed(self.rounds.values()))[:limit]

    async def set_participation(self, round_id: str, participation: Participation, local_round: int | None) -> None:
        self.rounds[round_id] = dataclasses.replace(
            self.rounds[round_id], participation=participation, local_round=local_round
        )

    async def set_tally_sent(self, round_id: str) -> None:
        self.rounds[round_id] = dataclasses.replace(self.rounds[round_id], tally_sent=True)

    async def set_results_at(self, round_id: str, at: datetime) -> None:
        self.rounds[round_id] = dataclasses.replace(self.rounds[round_id], results_at=at)

    async def set_deadlines(
        self, round_id: str, submit_until: datetime, vote_until: datetime, tally_until: datetime
    ) -> None:
        self.rounds[round_id] = dataclasses.replace(
            self.rounds[round_id], submit_until=submit_until, vote_until=vote_until, tally_until=tally_until
        )

    async def set_member(self, member: Member) -> bool:
        key = (member.round_id, member.instance)
        known = self._members.get(key)
        if known is not None and known.sent_at > member.sent_at:  # same time: the later in the room wins
            return False
        self._members[key] = member
        return True

    async def members(self, round_id: str) -> Sequence[Member]:
        return sorted((m for m in self._members.values() if m.round_id == round_id), key=lambda m: m.instance)

    async def add_entry(self, entry: RoundEntry) -> bool:
        key = (entry.round_id, entry.cid)
        if key in self._entries:
            return False
        self._entries[key] = entry
        return True

    async def entries(self, round_id: str) -> Sequence[RoundEntry]:
        return sorted((e for e in self._entries.values() if e.round_id == round_id), key=lambda e: e.cid)

    async def add_tally(self, tally: Tally) -> bool:
        key = (tally.round_id, tally.event_id)
        if key in self._tallies:
            return False
        self._tallies[key] = tally
        return True

    async def tallies(self, round_id: str) -> Sequence[Tally]:
        return sorted(
            (t for t in self._tallies.values() if t.round_id == round_id),
            key=lambda t: (t.sent_at, t.instance, t.event_id),
        )

    async def active_members(self, since: datetime, until: datetime) -> int:
        return self.active

    async def outbox_add(self, room: str, kind: str, payload: Mapping[str, Any]) -> int:
        item = (self._next, room, kind, dict(payload))
        self._next += 1
        self.outbox.append(item)
        return item[0]

    async def outbox_pending(self, limit: int) -> Sequence[tuple[int, str, str, Mapping[str, Any]]]:
        return self.outbox[:limit]

    async def outbox_done(self, item_id: int) -> None:
        self.outbox = [i for i in self.outbox if i[0] != item_id]

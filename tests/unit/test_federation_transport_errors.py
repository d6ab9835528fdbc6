"""Which homeserver refusals park an outbox item, and which hold the line until they pass;
and what the room reader logs about a tombstone that arrives before its track."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from bots.federation.matrix_api import MatrixError
from bots.federation.part import MatrixFederationTransport
from bots.federation.room_reader import RoomReader
from core.federation.outcomes import Outcome, OutcomeKind
from core.federation.ports import LastingSendError
from core.federation.replication import TOMBSTONE_EVENT


class RefusingApi:
    user_id = "@bot:hs"

    def __init__(self, status: int) -> None:
        self.status = status

    async def send(self, room_id: str, event_type: str, content: Mapping[str, Any]) -> str:
        raise MatrixError(self.status, '{"errcode": "M_X"}')

    async def power_level(self, room_id: str, user_id: str) -> int:
        return 0


@pytest.mark.parametrize("status", [400, 403, 404, 413])
async def test_a_refusal_for_good_is_a_lasting_send_error(status: int) -> None:
    transport = MatrixFederationTransport(RefusingApi(status), ["!r:hs"])  # type: ignore[arg-type]
    with pytest.raises(LastingSendError, match=str(status)):
        await transport.send("org.wavepool.track.v1", {})


@pytest.mark.parametrize("status", [401, 429, 500, 502])
async def test_a_passing_refusal_holds_the_outbox(status: int) -> None:
    transport = MatrixFederationTransport(RefusingApi(status), ["!r:hs"])  # type: ignore[arg-type]
    with pytest.raises(MatrixError):
        await transport.send("org.wavepool.track.v1", {})


class TombstoneFirst:
    store = None

    def __init__(self, kind: OutcomeKind) -> None:
        self.kind = kind

    async def handle_tombstone(self, *args: Any) -> Outcome:
        return Outcome(self.kind, "unknown track" if self.kind is OutcomeKind.NOTHING else "taken down")


@pytest.mark.parametrize(("kind", "level"), [(OutcomeKind.NOTHING, logging.DEBUG), (OutcomeKind.DONE, logging.INFO)])
async def test_a_tombstone_before_its_track_is_not_news(
    kind: OutcomeKind, level: int, caplog: pytest.LogCaptureFixture
) -> None:
    reader = RoomReader(RefusingApi(0), TombstoneFirst(kind), None, ["!r:hs"], None)  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG, logger="bots.federation.room_reader")
    await reader._handle("!r:hs", {"type": TOMBSTONE_EVENT, "event_id": "$t", "sender": "@peer:hs", "content": {}})
    (record,) = [r for r in caplog.records if "tombstone" in r.getMessage()]
    assert record.levelno == level

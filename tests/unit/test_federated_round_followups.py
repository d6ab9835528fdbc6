"""Cross-community rounds beyond the exchange: the digest's winners, entries whose audio is
still arriving, closing a phase early and cancelling (three in-memory instances, one room)."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

from core.services.digest import DigestSchedule, DigestService
from core.services.federated_round_winners import FederatedWinners
from storage.memory import MemoryKeyValue
from tests.unit.test_federated_rounds import Federation, Node, _play


def _digest(node: Node, fed: Federation, federated: bool) -> DigestService:
    return DigestService(
        DigestSchedule("mon", time(18, 0), "UTC"),
        node.tracks,
        fed.clock,
        node.events,
        MemoryKeyValue(),
        node.name,
        node.voting,
        federated=FederatedWinners(node.rounds, node.tracks) if federated else None,
    )


async def test_the_digest_names_the_federated_winner_not_the_local_one(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, tracks = await _play(fed)
    two = fed.nodes["two"]
    fed.clock.set(announced.vote_until + timedelta(seconds=1))
    await two.voting.advance_due()  # voting closed here; the tallies are not in yet
    waiting = await _digest(two, fed, True).build()
    assert waiting.rounds == ()  # the local tie is not the round's result
    await fed.tick()
    local = await _digest(two, fed, False).build()
    assert len(local.rounds[0].winners) == 2  # here, one voter approved both: a tie
    combined = await _digest(two, fed, True).build()
    assert [w for w in combined.rounds[0].winners] == [("Tunnel lights", "Bob (two)")]

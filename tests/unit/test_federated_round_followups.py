"""Cross-community rounds beyond the exchange: the digest's winners, entries whose audio is
still arriving, closing a phase early and cancelling (three in-memory instances, one room)."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

from core.announcements import Announcements
from core.events.model import DomainEvent, EventKind, RecordedEvent
from core.services.digest import DigestSchedule, DigestService
from core.services.federated_round_winners import FederatedWinners
from storage.memory import MemoryKeyValue
from tests.support.factories import member
from tests.unit.test_federated_rounds import Federation, Node, _play, _shared, _start


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


async def test_a_peer_entry_shows_still_arriving_until_its_audio_is_here(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced = await _start(fed)
    org, two = fed.nodes["org"], fed.nodes["two"]
    await two.rounds.join(announced.id, member("mod2"), "#contest")
    await fed.sync()
    bob = member("bob", "discord")
    track = await _shared(two, bob, "Tunnel lights")
    await two.voting.submit(str((await two.rounds.get(announced.id)).local_round), track.id, bob)
    await fed.tick()
    posts = Announcements(org.tracks, org.voting, None, federated=org.rounds)
    entered = [e for e in org.events.events if e.kind is EventKind.FEDERATED_ROUND_ENTRY]
    assert len(entered) == 1
    [card] = await posts.posts_for(entered[0])
    assert card.target == f"round:{announced.local_round}"
    assert "Tunnel lights by Bob from two — still arriving" in card.reply.text
    assert card.reply.cards == ()
    await org.tracks.add(track)  # replication brings the bytes (tested on Synapse)
    arrived = RecordedEvent(99, fed.clock.now(), DomainEvent(EventKind.TRACK_REPLICATED, track_id=track.id, peer="two"))
    round_cards = [p for p in await posts.posts_for(arrived) if p.target.startswith("round:")]
    assert [p.reply.text for p in round_cards] == ["Tunnel lights by Bob from two"]
    assert round_cards[0].reply.cards[0].id == track.id
    fed.clock.set(announced.submit_until + timedelta(seconds=1))
    assert [p for p in await posts.posts_for(arrived) if p.target.startswith("round:")] == []  # voting: no more

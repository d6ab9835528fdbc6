"""The federation publisher with the publish gate on: held, published by boosts or a round place, updated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from core.events.model import DomainEvent, EventKind, RecordedEvent
from core.federation.curated import CuratedFederation
from core.federation.policy import PublishGate
from core.federation.publishing import FederationPublisher
from core.voting_model import Ballot, Phase, RoundRules, Voter
from storage.memory import MemoryTrackRepository
from storage.memory_federation import MemoryFederationStore
from tests.support.curation import START, World, people, world

INSTANCE = "wp-test"  # tests.support.factories' origin


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[World]:
    async with world("memory", tmp_path) as built:
        yield built


def _publisher(w: World, gate: PublishGate) -> tuple[FederationPublisher, MemoryFederationStore]:
    assert isinstance(w.tracks, MemoryTrackRepository)
    store = MemoryFederationStore(w.tracks)
    c = w.curation
    curated = CuratedFederation(c.reputation, c.lineage, c.store, gate)
    return FederationPublisher(store, w.tracks, INSTANCE, None, curated), store


def _event(kind: EventKind, seq: int, **extras: object) -> RecordedEvent:
    return RecordedEvent(seq, START, DomainEvent(kind, **extras))  # type: ignore[arg-type]


async def _kinds(store: MemoryFederationStore) -> list[tuple[str, str]]:
    return [(kind, str(content["track_id"])) for _, kind, content in await store.outbox_pending(100)]


async def test_the_gate_holds_an_unboosted_track_and_the_boost_that_crosses_n_publishes_it(w: World) -> None:
    publisher, store = _publisher(w, PublishGate(curated=True, min_boosts=2, round_place=0))
    track = await w.share(people("alice", 1)[0])
    await publisher.deliver(_event(EventKind.TRACK_ACCEPTED, 1, track_id=track.id))
    assert await _kinds(store) == []
    for n in range(2):
        await w.curation.reputation.boost(track.id, people(f"mod{n}", 1)[0], moderator=True)
        await publisher.deliver(_event(EventKind.TRACK_BOOSTED, 2 + n, track_id=track.id))
    assert await _kinds(store) == [("track", track.id)]
    await store.save_manifest(track.id, track.cid, INSTANCE, {"kind": "track"}, "$event")  # what sending does
    await w.curation.reputation.boost(track.id, people("mod9", 1)[0], moderator=True)
    await publisher.deliver(_event(EventKind.TRACK_BOOSTED, 9, track_id=track.id))
    assert await _kinds(store) == [("track", track.id), ("boost", track.id)]


async def test_without_the_gate_every_accepted_track_is_published(w: World) -> None:
    publisher, store = _publisher(w, PublishGate())
    track = await w.share(people("alice", 1)[0])
    await publisher.deliver(_event(EventKind.TRACK_ACCEPTED, 1, track_id=track.id))
    assert await _kinds(store) == [("track", track.id)]


async def test_placing_in_a_closed_round_publishes_a_held_track(w: World) -> None:
    publisher, store = _publisher(w, PublishGate(curated=True, min_boosts=0, round_place=1))
    alice, bob = people("alice", 1)[0], people("bob", 1)[0]
    winner, loser = await w.share(alice, "Winner"), await w.share(bob, "Loser")
    now = w.clock.now()
    rnd = await w.voting.create_round(
        RoundRules("Night"), alice, now, now + timedelta(hours=1), now + timedelta(hours=2), "room"
    )
    first = await w.voting.add_entry(rnd.id, winner.id, alice, now)
    await w.voting.add_entry(rnd.id, loser.id, bob, now)
    for n in range(3):
        await w.voting.set_ballot(Ballot(rnd.id, first.number, Voter.of(people(f"v{n}", 1)[0]), 1, now))
    await publisher.deliver(_event(EventKind.TRACK_ACCEPTED, 1, track_id=winner.id))
    assert await w.voting.set_phase(rnd.id, Phase.VOTING, Phase.SUBMISSION)
    assert await w.voting.set_phase(rnd.id, Phase.CLOSED, Phase.VOTING)
    await publisher.deliver(_event(EventKind.ROUND_CLOSED, 2, round_id=rnd.id))
    assert await _kinds(store) == [("track", winner.id)]

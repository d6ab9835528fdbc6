"""Cross-community rounds with three in-memory instances and one fake room: signed
announcement, opt-in, entries, votes where members live, tallies, identical results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.announcements import Announcements
from core.clock import ManualClock
from core.errors import PermissionDeniedError, PhaseError
from core.events.model import EventKind
from core.federated_round_model import FederatedRound, Participation
from core.federation.event_types import ROUND_MEMBER_EVENT, ROUND_TALLY_EVENT
from core.federation.manifest import sign
from core.federation.ports import Peer
from core.federation.round_documents import member_doc, tally_doc
from core.federation.round_exchange import RoundExchange
from core.model import Share, Sharer, Track
from core.services.federated_rounds import SETTLE, FederatedRoundService
from core.services.voting import VotingService
from core.voting_model import BallotType, RoundRules
from storage.identity import Identity, load_or_create_identity, verify_signature
from storage.memory import MemoryTrackRepository, MemoryVotingRepository
from storage.memory_events import MemoryEventLog
from storage.memory_federated_rounds import MemoryFederatedRoundStore
from tests.support.factories import make_track, member

ROOM = "!fed:localhost"


@dataclass
class Room:
    """A federation room: every event gets the homeserver's timestamp from the shared clock."""

    clock: ManualClock
    events: list[dict[str, Any]] = field(default_factory=list)

    def sender(self, user: str):  # type: ignore[no-untyped-def]
        async def send(room: str, event_type: str, content: Mapping[str, Any]) -> str:
            assert room == ROOM
            event_id = f"${len(self.events)}"
            self.events.append(
                {
                    "type": event_type,
                    "sender": user,
                    "content": dict(content),
                    "event_id": event_id,
                    "origin_server_ts": int(self.clock.now().timestamp() * 1000),
                }
            )
            return event_id

        return send


@dataclass
class Node:
    """One instance: its voting, its federated rounds, its exchange and what it read."""

    name: str
    user: str
    identity: Identity
    tracks: MemoryTrackRepository
    events: MemoryEventLog
    voting: VotingService
    rounds: FederatedRoundService
    exchange: RoundExchange
    read: int = 0
    outcomes: list[str] = field(default_factory=list)


class Federation:
    """Three instances around one room."""

    def __init__(self, tmp: Path) -> None:
        self.clock = ManualClock()
        self.room = Room(self.clock)
        self.peers: dict[str, Peer] = {}
        self.nodes = {name: self._node(tmp, name) for name in ("org", "two", "three")}

    def _node(self, tmp: Path, name: str) -> Node:
        identity = load_or_create_identity(tmp / name)
        user = f"@{name}:localhost"
        self.peers[user] = Peer(identity.instance_id, user, identity.public_key_b64, name)
        tracks, events, repo = MemoryTrackRepository(), MemoryEventLog(), MemoryVotingRepository()
        voting = VotingService(repo, tracks, self.clock, events)
        rounds = FederatedRoundService(
            MemoryFederatedRoundStore(), repo, tracks, self.clock, events, identity.instance_id, name
        )

        async def peer_of(sender: str) -> Peer | None:
            return self.peers.get(sender)

        exchange = RoundExchange(rounds, identity, verify_signature, peer_of, user, self.clock)
        return Node(name, user, identity, tracks, events, voting, rounds, exchange)

    async def sync(self) -> None:
        """Every instance sends its outbox, then reads what it has not read (several passes)."""
        for _ in range(3):
            for node in self.nodes.values():
                await node.exchange.flush(self.room.sender(node.user))
            for node in self.nodes.values():
                for event in self.room.events[node.read :]:
                    node.outcomes.append(await node.exchange.handle(ROOM, event))
                node.read = len(self.room.events)

    async def tick(self) -> None:
        """The scheduler's work on every instance, then a sync."""
        for node in self.nodes.values():
            await node.voting.advance_due()
            await node.rounds.advance_due()
        await self.sync()
        for node in self.nodes.values():
            await node.rounds.advance_due()


async def _shared(node: Node, who: Sharer, title: str) -> Track:
    track = make_track(who, title=title)
    await node.tracks.add(track, Share(track.id, who, track.first_seen_at, "room"))
    return track


async def _start(fed: Federation, *, anonymous: bool = False, cap: float | None = None) -> FederatedRound:
    org = fed.nodes["org"]
    rules = RoundRules(theme="Night drive", ballot=BallotType.APPROVAL, max_approvals=2, anonymous=anonymous)
    rnd = await org.voting.start(rules, member("mod"), "#rounds", timedelta(hours=1), timedelta(hours=1))
    announced = await org.rounds.announce(rnd, ROOM, cap, timedelta(minutes=10))
    await fed.sync()
    return announced


async def test_announced_round_reaches_moderators_only_until_they_join(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced = await _start(fed)
    two = fed.nodes["two"]
    invited = await two.rounds.get(announced.id)
    assert invited.participation is Participation.INVITED
    assert invited.submit_until == announced.submit_until and invited.tally_until == announced.tally_until
    assert [e.kind for e in two.events.events] == [EventKind.FEDERATED_ROUND_ANNOUNCED]
    assert await two.voting.open_rounds() == []  # nothing in the community yet
    local = await two.rounds.join(announced.id[-8:], member("mod2"), "#contest")
    assert local.submit_until == announced.submit_until and local.vote_until == announced.vote_until
    assert two.events.events[-1].kind is EventKind.ROUND_STARTED
    await fed.sync()
    org = fed.nodes["org"]
    assert set(await org.rounds.participants(announced)) == {org.rounds.instance_id, two.rounds.instance_id}


async def test_leaving_is_possible_until_voting_opens(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced = await _start(fed)
    two, three = fed.nodes["two"], fed.nodes["three"]
    await two.rounds.join(announced.id, member("mod2"), "#contest")
    await two.rounds.leave(announced.id, member("mod2"))
    assert await two.voting.open_rounds() == []
    await fed.sync()
    org = fed.nodes["org"]
    assert two.rounds.instance_id not in await org.rounds.participants(announced)
    await three.rounds.join(announced.id, member("mod3"), "#contest")
    fed.clock.advance(timedelta(hours=1, seconds=1))
    with pytest.raises(PhaseError):
        await three.rounds.leave(announced.id, member("mod3"))
    with pytest.raises(PhaseError):
        await two.rounds.join(announced.id, member("mod2"), "#contest")


async def test_an_opt_in_sent_after_voting_opened_is_ignored(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced = await _start(fed)
    three = fed.nodes["three"]
    fed.clock.advance(timedelta(hours=1, seconds=1))
    late = sign(member_doc(announced.id, three.rounds.instance_id, "three", True, fed.clock.now()), three.identity)
    await fed.room.sender(three.user)(ROOM, ROUND_MEMBER_EVENT, late)
    await fed.sync()
    assert three.rounds.instance_id not in await fed.nodes["org"].rounds.participants(announced)


async def _play(fed: Federation, *, anonymous: bool = False) -> tuple[FederatedRound, dict[str, Track]]:
    """Org and two take part; each has an entry; members vote where they live."""
    announced = await _start(fed, anonymous=anonymous)
    org, two = fed.nodes["org"], fed.nodes["two"]
    await two.rounds.join(announced.id, member("mod2"), "#contest")
    await fed.sync()
    alice, bob = member("alice"), member("bob", "discord")
    tracks = {"org": await _shared(org, alice, "Neon rain"), "two": await _shared(two, bob, "Tunnel lights")}
    await org.voting.submit(str(announced.local_round), tracks["org"].id, alice)
    local_two = (await two.rounds.get(announced.id)).local_round
    await two.voting.submit(str(local_two), tracks["two"].id, bob)
    await fed.tick()
    # Before voting opens each participant lists every entry; the peer's audio is still arriving.
    held = {e.cid: here for e, here in await org.rounds.held(announced)}
    assert held == {tracks["org"].cid: True, tracks["two"].cid: False}
    await org.tracks.add(tracks["two"])  # replication brings the bytes (tested on Synapse)
    await two.tracks.add(tracks["org"])
    fed.clock.set(announced.submit_until + timedelta(seconds=1))
    await fed.tick()
    org_entries = {e.track_id: e.number for e in await org.voting.entries(await org.voting.get(announced.local_round))}
    two_entries = {e.track_id: e.number for e in await two.voting.entries(await two.voting.get(local_two))}  # type: ignore[arg-type]
    assert set(org_entries) == set(two_entries) == {tracks["org"].id, tracks["two"].id}
    for voter in ("carol", "dave", "erin"):
        await org.voting.vote(str(announced.local_round), org_entries[tracks["two"].id], member(voter), 1)
    await two.voting.vote(str(local_two), two_entries[tracks["org"].id], member("frank", "discord"), 1)
    await two.voting.vote(str(local_two), two_entries[tracks["two"].id], member("frank", "discord"), 1)
    return announced, tracks


async def test_both_participants_post_identical_results_with_a_breakdown(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, tracks = await _play(fed)
    org, two, three = fed.nodes["org"], fed.nodes["two"], fed.nodes["three"]
    fed.clock.set(announced.vote_until + timedelta(seconds=1))
    await fed.tick()
    for node in (org, two):
        assert [e.kind for e in node.events.events].count(EventKind.FEDERATED_ROUND_RESULTS) == 1
    assert not any(e.kind is EventKind.FEDERATED_ROUND_RESULTS for e in three.events.events)
    org_results = await org.rounds.results(await org.rounds.get(announced.id))
    two_results = await two.rounds.results(await two.rounds.get(announced.id))
    assert org_results == two_results
    assert org_results.standings[0].cid == tracks["two"].cid  # 4 approvals of 4 voters
    assert org_results.standings[0].by_community == (("org", 3, 3), ("two", 1, 1)) or (
        org_results.standings[0].by_community == (("two", 1, 1), ("org", 3, 3))
    )
    assert {c.name: c.voters for c in org_results.communities} == {"org": 3, "two": 1}
    assert org_results.not_counted == ()


async def test_forged_and_outsider_tallies_are_not_counted_and_say_so(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, tracks = await _play(fed)
    org, two, three = fed.nodes["org"], fed.nodes["two"], fed.nodes["three"]
    fed.clock.set(announced.vote_until + timedelta(seconds=1))
    flood = {"round": announced.id, "voters": 500, "active_members": 500, "counts": []}
    flood["counts"] = [{"cid": tracks["org"].cid, "voters": 500, "total": 500}]
    # Three never opted in; then three's account signs a tally in two's name; then a wrong key in two's account.
    await fed.room.sender(three.user)(
        ROOM,
        ROUND_TALLY_EVENT,
        sign(tally_doc(three.rounds.instance_id, "three", flood, fed.clock.now()), three.identity),
    )
    await fed.room.sender(three.user)(
        ROOM, ROUND_TALLY_EVENT, sign(tally_doc(two.rounds.instance_id, "two", flood, fed.clock.now()), three.identity)
    )
    stranger = load_or_create_identity(tmp_path / "stranger")
    await fed.room.sender(two.user)(
        ROOM, ROUND_TALLY_EVENT, sign(tally_doc(two.rounds.instance_id, "two", flood, fed.clock.now()), stranger)
    )
    await fed.tick()
    results = await org.rounds.results(await org.rounds.get(announced.id))
    assert results == await two.rounds.results(await two.rounds.get(announced.id))
    assert ("three", "not opted in") in results.not_counted
    assert [reason for _, reason in results.not_counted].count("forged") == 2
    assert results.standings[0].cid == tracks["two"].cid
    assert sum(c.voters for c in results.communities) == 4


async def test_a_late_tally_is_published_marked_late_and_not_counted(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, tracks = await _play(fed)
    org, two = fed.nodes["org"], fed.nodes["two"]
    fed.clock.set(announced.vote_until + timedelta(seconds=1))
    await org.voting.advance_due()  # two is down at the deadline
    await org.rounds.advance_due()
    await fed.nodes["org"].exchange.flush(fed.room.sender(org.user))
    fed.clock.set(announced.tally_until + SETTLE + timedelta(seconds=1))
    await fed.tick()  # two comes back: it sends its tally now, late
    for node in (org, two):
        assert [e.kind for e in node.events.events].count(EventKind.FEDERATED_ROUND_RESULTS) == 1
    results = await org.rounds.results(await org.rounds.get(announced.id))
    assert results == await two.rounds.results(await two.rounds.get(announced.id))
    assert ("two", "late") in results.not_counted
    assert [c.name for c in results.communities] == ["org"]
    tally = [t for t in await org.rounds.store.tallies(announced.id) if t.name == "two"]
    assert tally and tally[0].late_marked


async def test_no_self_vote_on_an_entry_shared_from_another_platform(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, tracks = await _play(fed)
    org = fed.nodes["org"]
    alice_on_discord = Sharer("discord", "42", "Alice")
    await org.tracks.add_share(Share(tracks["org"].id, alice_on_discord, tracks["org"].first_seen_at, "#share"))
    entries = await org.voting.entries(await org.voting.get(announced.local_round))
    own = next(e.number for e in entries if e.track_id == tracks["org"].id)
    with pytest.raises(PermissionDeniedError):
        await org.voting.vote(str(announced.local_round), own, alice_on_discord, 1)


async def test_anonymous_round_names_nobody_before_the_results(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, tracks = await _play(fed, anonymous=True)
    wire = repr(fed.room.events)
    assert "Alice" not in wire and "Bob" not in wire
    two = fed.nodes["two"]
    local_two = await two.voting.get((await two.rounds.get(announced.id)).local_round)  # type: ignore[arg-type]
    assert local_two.hides_entrants
    imported = [e for e in await two.voting.entries(local_two) if e.track_id == tracks["org"].id]
    assert imported[0].submitter.display_name == "anonymous"


async def test_an_organiser_without_entries_of_its_own_still_opens_voting(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced = await _start(fed)
    org, two = fed.nodes["org"], fed.nodes["two"]
    await two.rounds.join(announced.id, member("mod2"), "#contest")
    await fed.sync()
    bob = member("bob", "discord")
    track = await _shared(two, bob, "Tunnel lights")
    local_two = (await two.rounds.get(announced.id)).local_round
    await two.voting.submit(str(local_two), track.id, bob)
    await fed.tick()
    fed.clock.set(announced.submit_until + timedelta(seconds=1))
    await fed.tick()
    rnd = await org.voting.get(announced.local_round)  # type: ignore[arg-type]
    assert rnd.phase.value == "voting"
    assert [e.track_id for e in await org.voting.entries(rnd)] == [track.id]


async def test_moderators_hear_of_a_peer_round_and_members_of_the_results(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, _tracks = await _play(fed)
    two = fed.nodes["two"]
    posts = Announcements(two.tracks, two.voting, None, federated=two.rounds)
    notice = await posts.posts_for(two.events.events[0])
    assert [p.target for p in notice] == ["moderators"]
    assert f"round join {announced.id}" in notice[0].reply.text
    fed.clock.set(announced.vote_until + timedelta(seconds=1))
    await fed.tick()
    closing = [e for e in two.events.events if e.kind in (EventKind.ROUND_CLOSED, EventKind.FEDERATED_ROUND_RESULTS)]
    assert [e.kind for e in closing] == [EventKind.ROUND_CLOSED, EventKind.FEDERATED_ROUND_RESULTS]
    closed, results = [await posts.posts_for(e) for e in closing]
    assert "The results come when every community's tally is in" in closed[0].reply.text
    text = results[0].reply.text
    assert results[0].target.startswith("round:")
    assert text.startswith("1. Tunnel lights by Bob — 4 (org 3, two 1)"), text
    assert "org: 3 voter(s)" in text and "two: 1 voter(s)" in text


async def test_an_announcement_read_after_opt_ins_closed_bothers_no_moderator(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    org, two = fed.nodes["org"], fed.nodes["two"]
    rules = RoundRules(theme="Night drive")
    rnd = await org.voting.start(rules, member("mod"), "#rounds", timedelta(hours=1), timedelta(hours=1))
    announced = await org.rounds.announce(rnd, ROOM)
    await org.exchange.flush(fed.room.sender(org.user))
    fed.clock.set(announced.submit_until + timedelta(minutes=5))  # two was down until now
    await fed.sync()
    assert (await two.rounds.get(announced.id)).participation is Participation.INVITED
    assert two.events.events == []

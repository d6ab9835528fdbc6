"""Cross-community rounds beyond the exchange: the digest's winners, entries whose audio is
still arriving, closing a phase early and cancelling (three in-memory instances, one room)."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.web.pages import Site, template_environment
from core.announcements import Announcements
from core.errors import PermissionDeniedError, PhaseError
from core.events.model import DomainEvent, EventKind, RecordedEvent
from core.federated_round_model import FederatedRound, Participation
from core.federation.event_types import ROUND_CANCEL_EVENT, ROUND_SCHEDULE_EVENT
from core.federation.manifest import sign
from core.federation.round_control_documents import cancel_doc, schedule_doc
from core.services.digest import DigestSchedule, DigestService
from core.services.federated_round_control import FederatedRoundControl
from core.services.federated_round_winners import FederatedWinners
from core.views.page_data import RoundPage
from core.views.pages import WebPages
from core.views.rounds import when_text
from core.voting_model import Phase
from storage.memory import MemoryKeyValue
from tests.support.factories import member
from tests.unit.test_federated_rounds import ROOM, Federation, Node, _play, _shared, _start


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


async def _joined(fed: Federation) -> tuple[FederatedRound, int]:
    announced = await _start(fed)
    two = fed.nodes["two"]
    await two.rounds.join(announced.id, member("mod2"), "#contest")
    await fed.sync()
    return announced, (await two.rounds.get(announced.id)).local_round  # type: ignore[return-value]


async def test_the_organiser_closes_a_phase_early_for_every_community(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, local_two = await _joined(fed)
    org, two = fed.nodes["org"], fed.nodes["two"]
    with pytest.raises(PermissionDeniedError):
        await FederatedRoundControl(two.rounds).close_phase(str(local_two), member("mod2"))
    fed.clock.advance(timedelta(minutes=10))
    closed_at = fed.clock.now()
    await FederatedRoundControl(org.rounds).close_phase(str(announced.local_round), member("mod"))
    await fed.tick()
    await fed.tick()  # the scheduler moves the participant's round past its new deadline
    for node, local in ((org, announced.local_round), (two, local_two)):
        assert (await node.rounds.get(announced.id)).submit_until == closed_at
        rnd = await node.voting.get(local)  # type: ignore[arg-type]
        assert rnd.submit_until == closed_at and rnd.vote_until == announced.vote_until
    assert (await two.voting.get(local_two)).phase is Phase.CLOSED  # no entries: nothing to vote on
    assert "schedule applied" in two.outcomes
    posts = Announcements(two.tracks, two.voting, None, federated=two.rounds)
    [notice] = [e for e in two.events.events if e.kind is EventKind.FEDERATED_ROUND_RESCHEDULED]
    [post] = await posts.posts_for(notice)
    assert "org closed a phase" in (post.reply.title or "") and when_text(closed_at) in post.reply.text


async def test_closing_voting_early_moves_the_tally_deadline_and_is_not_undone(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, tracks = await _play(fed)
    org, two = fed.nodes["org"], fed.nodes["two"]
    fed.clock.advance(timedelta(minutes=5))  # voting
    closed_at = fed.clock.now()
    await FederatedRoundControl(org.rounds).close_phase(str(announced.local_round), member("mod"))
    await fed.tick()
    for node in (org, two):
        rnd = await node.rounds.get(announced.id)
        assert rnd.vote_until == closed_at and rnd.tally_until == closed_at + timedelta(minutes=10)
    # A replayed older schedule (the original deadlines) would reopen voting: it is ignored.
    stale = sign(schedule_doc(announced, fed.clock.now()), org.identity)
    await fed.room.sender(org.user)(ROOM, ROUND_SCHEDULE_EVENT, stale)
    await fed.tick()
    assert (await two.rounds.get(announced.id)).vote_until == closed_at
    assert "schedule ignored" in two.outcomes
    for node in (org, two):  # the tallies went out at the new close and the results are in
        assert [e.kind for e in node.events.events].count(EventKind.FEDERATED_ROUND_RESULTS) == 1


async def test_the_organiser_cancels_before_voting_and_participants_close_with_a_notice(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, local_two = await _joined(fed)
    org, two = fed.nodes["org"], fed.nodes["two"]
    with pytest.raises(PermissionDeniedError):
        await org.rounds.leave(announced.id, member("mod"))
    with pytest.raises(PermissionDeniedError):
        await FederatedRoundControl(two.rounds).cancel(announced.id, member("mod2"))
    await FederatedRoundControl(org.rounds).cancel(announced.id, member("mod"))
    await fed.tick()
    for node, local in ((org, announced.local_round), (two, local_two)):
        assert (await node.voting.get(local)).phase is Phase.CLOSED  # type: ignore[arg-type]
        assert (await node.rounds.get(announced.id)).participation is Participation.CANCELLED
    assert "cancel applied" in two.outcomes
    [event] = [e for e in two.events.events if e.kind is EventKind.FEDERATED_ROUND_CANCELLED]
    [post] = await Announcements(two.tracks, two.voting, None, federated=two.rounds).posts_for(event)
    assert "cancelled" in (post.reply.title or "") and "without results" in post.reply.text
    assert not any(e.kind is EventKind.ROUND_CLOSED for e in two.events.events)  # no "counting" notice


async def test_a_round_cannot_be_cancelled_once_voting_opened(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, _local_two = await _joined(fed)
    fed.clock.set(announced.submit_until + timedelta(seconds=1))
    with pytest.raises(PhaseError):
        await FederatedRoundControl(fed.nodes["org"].rounds).cancel(announced.id, member("mod"))
    # A cancel sent after voting opened (by the organiser's own key) is ignored by participants.
    late = sign(cancel_doc(announced, fed.clock.now()), fed.nodes["org"].identity)
    await fed.room.sender(fed.nodes["org"].user)(ROOM, ROUND_CANCEL_EVENT, late)
    await fed.sync()
    assert (await fed.nodes["two"].rounds.get(announced.id)).participation is Participation.JOINED


def _render(pages: WebPages, page: RoundPage) -> str:
    site = Site("http://127.0.0.1", pages.community, pages.instance_name)
    return template_environment().get_template("round.html").render(site=site, path="/", page=page)


def _pages(node: Node) -> WebPages:
    catalog: Any = None  # the round page reads the services only
    return WebPages(
        node.tracks,
        catalog,
        community=node.name,
        instance_name=node.name,
        voting=node.voting,
        federated_rounds=node.rounds,
    )


async def test_the_round_page_shows_every_community_and_a_still_arriving_entry(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, _local_two = await _joined(fed)
    org, two = fed.nodes["org"], fed.nodes["two"]
    bob = member("bob", "discord")
    track = await _shared(two, bob, "Tunnel lights")
    await two.voting.submit(str((await two.rounds.get(announced.id)).local_round), track.id, bob)
    await fed.tick()
    pages = _pages(org)
    page = await pages.round(str(announced.local_round))
    assert page.federated is not None and set(page.federated.communities) == {"org", "two"}
    html = _render(pages, page)
    assert "communities: org, two" in html
    assert 'Tunnel lights <span class="meta">(still arriving)</span>' in html and "from two" in html


async def test_the_round_page_keeps_entrants_anonymous_until_the_combined_results(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, tracks = await _play(fed, anonymous=True)
    two = fed.nodes["two"]
    local_two = (await two.rounds.get(announced.id)).local_round
    pages = _pages(two)
    before = _render(pages, await pages.round(str(local_two)))
    assert "Alice" not in before and "Bob" not in before and before.count("by anonymous") == 2
    assert "from org" in before and "from two" in before
    fed.clock.set(announced.vote_until + timedelta(seconds=1))
    await fed.tick()
    after_page = await pages.round(str(local_two))
    assert after_page.federated is not None and after_page.federated.results
    first = after_page.federated.entries[0]
    assert (first.title, first.rank, first.by_community) == ("Tunnel lights", 1, (("org", 3), ("two", 1)))
    after = _render(pages, after_page)
    assert "by Bob · from two · 4 votes (org 3, two 1)" in after, after
    assert "org: 3 voters" in after and "two: 1 voter<" in after


async def test_voting_opens_with_cards_saying_which_audio_is_still_arriving(tmp_path: Path) -> None:
    fed = Federation(tmp_path)
    announced, _local_two = await _joined(fed)
    org, two = fed.nodes["org"], fed.nodes["two"]
    alice, bob = member("alice"), member("bob", "discord")
    mine = await _shared(org, alice, "Neon rain")
    theirs = await _shared(two, bob, "Tunnel lights")
    await org.voting.submit(str(announced.local_round), mine.id, alice)
    await two.voting.submit(str((await two.rounds.get(announced.id)).local_round), theirs.id, bob)
    await fed.tick()
    fed.clock.set(announced.submit_until + timedelta(seconds=1))
    await fed.tick()
    [opened] = [e for e in org.events.events if e.kind is EventKind.ROUND_VOTING_OPENED]
    posts = await Announcements(org.tracks, org.voting, None, federated=org.rounds).posts_for(opened)
    texts = sorted(p.reply.text for p in posts[1:])
    assert texts == ["Entry 1 by Alice from org", "Entry 2 by Bob from two — Tunnel lights is still arriving"]

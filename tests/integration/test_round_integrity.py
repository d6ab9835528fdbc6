"""Rounds members cannot game: anonymity holds until the results, only the first sharer enters a
track, and the configured minimum account age applies — through the real commands and storage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bots.instance import Instance
from bots.runtime import open_instance
from config import load_settings
from core.cards import card_fields, card_text
from core.commands.declaration import Invocation, Permission, Reply
from core.commands.dispatch import execute
from core.commands.parsing import parse_chat
from core.errors import PermissionDeniedError
from core.model import Share, Sharer, Track
from core.voting_model import RoundRules
from tests.support.factories import make_track, member
from tests.support.instances import write_config

BOB, CAROL, MOD = member("bob"), member("carol"), member("mod")


@pytest.fixture
async def instance(tmp_path: Path) -> AsyncIterator[Instance]:
    config = write_config(tmp_path / "c.toml", tmp_path / "data", voting={"min_account_age_days": 30.0})
    async with open_instance(load_settings(config, environ={})) as opened:
        yield opened


async def _run(instance: Instance, text: str, who: Sharer, *, age: float | None = 365.0) -> Reply:
    command, args = parse_chat(instance.registry, text)
    permission = Permission.MODERATOR if who == MOD else Permission.MEMBER
    inv = Invocation(who.platform, who.user_id, who.display_name, "!r:hs", permission, args, account_age_days=age)
    return await execute(command, inv)


async def _shared(instance: Instance, who: Sharer, title: str) -> Track:
    track = make_track(who, title)
    await instance.app.tracks.add(track, Share(track.id, who, track.first_seen_at, "!r:hs"))
    return track


def _shown(reply: Reply) -> str:
    """Everything a member reads of a reply: its text and every card, as each adapter lays it out."""
    cards = [card_text(c) + "\n" + "\n".join(f"{n}: {v}" for n, v in card_fields(c)) for c in reply.cards]
    return "\n".join([reply.title or "", reply.text, *cards])


async def test_an_anonymous_entry_shows_no_address_and_track_lookups_hide_its_sharer(instance: Instance) -> None:
    voting = instance.app.voting
    assert voting is not None
    track = await _shared(instance, BOB, "Midnight tape")
    rnd = await voting.start(
        RoundRules(theme="Night", anonymous=True), MOD, "!r:hs", timedelta(hours=1), timedelta(hours=1)
    )
    await voting.submit(str(rnd.id), track.id, BOB, account_age_days=365)
    await voting.close_phase(str(rnd.id), MOD)  # voting opens: the entry cards are announced
    posts = [p for e in await instance.events.after(0) for p in await instance.announcements.posts_for(e)]
    entry_cards = [p.reply for p in posts if p.reply.data.get("entry")]
    assert entry_cards
    for reply in entry_cards:
        shown = _shown(reply)
        assert track.cid not in shown and track.id not in shown and "Bob" not in shown, shown

    for ref in (track.cid, track.id):
        for text in (f"track {ref}", "search Midnight"):
            seen = _shown(await _run(instance, text, CAROL))
            assert "Midnight tape" in seen and "Bob" not in seen, (text, seen)
            assert "Bob" not in _shown(await _run(instance, text, MOD))  # moderators vote too
        assert "Bob" in _shown(await _run(instance, f"track {ref}", BOB))  # the entrant sees their own

    await voting.close_phase(str(rnd.id), MOD)  # results: names are out
    assert "Bob" in _shown(await _run(instance, f"track {track.cid}", CAROL))


async def test_a_reshared_file_cannot_be_entered_by_the_resharer(instance: Instance) -> None:
    voting = instance.app.voting
    assert voting is not None
    track = await _shared(instance, BOB, "Bob's own")
    later = track.first_seen_at + timedelta(hours=1)
    await instance.app.tracks.add_share(Share(track.id, CAROL, later, "!r:hs"))  # Carol posts the same file
    assert [s.sharer for s in await instance.app.tracks.shares(track.id)] == [BOB, CAROL]
    rnd = await voting.start(RoundRules(theme="Mine"), MOD, "!r:hs", timedelta(hours=1), timedelta(hours=1))
    with pytest.raises(PermissionDeniedError, match="shared yourself"):
        await voting.submit(str(rnd.id), track.id, CAROL, account_age_days=365)
    entry = await voting.submit(str(rnd.id), track.id, BOB, account_age_days=365)
    assert entry.submitter == BOB


async def test_the_configured_minimum_account_age_gates_round_voters(instance: Instance) -> None:
    voting = instance.app.voting
    assert voting is not None
    track = await _shared(instance, BOB, "Gate")
    rnd = await voting.start(RoundRules(theme="Open"), MOD, "!r:hs", timedelta(hours=1), timedelta(hours=1))
    await voting.submit(str(rnd.id), track.id, BOB, account_age_days=365)
    await voting.close_phase(str(rnd.id), MOD)
    young = await _run(instance, f"round vote {rnd.id} 1", CAROL, age=3)
    assert young.failed and "30 days" in young.text
    unknown = await _run(instance, f"round vote {rnd.id} 1", CAROL, age=None)
    assert unknown.failed and "did not tell" in unknown.text
    old = await _run(instance, f"round vote {rnd.id} 1", CAROL, age=31)
    assert not old.failed, old.text
    assert [(b.voter.user_id, b.value) for b in await voting.ballots(await voting.get(rnd.id))] == [(CAROL.user_id, 1)]

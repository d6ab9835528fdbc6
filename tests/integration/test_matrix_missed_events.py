"""What happens while the Matrix bot is down is not lost when it comes back, against a real
Synapse: reactions on a card it posted but had no record of yet, a reaction it was counting
when it stopped, and events beyond one sync's timeline (a limited sync). A member's message
dressed up as a card casts no vote."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bots.matrix.render import VOTES_FIELD
from tests.integration.test_matrix_bot import PARTS, Room, _ready, round_in_voting, synapse  # noqa: F401 (the fixture)
from tests.load.scenarios import answers_to, room_history
from tests.support.homeserver import Homeserver
from tests.support.instances import running
from tests.support.waiting import eventually

FILLER = 130  # more than one sync's timeline (the bot asks for 100 events a room)


async def test_a_reaction_on_a_card_the_bot_had_not_recorded_counts(synapse: Homeserver, tmp_path: Path) -> None:  # noqa: F811
    room = Room(synapse, tmp_path)
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        rnd = await round_in_voting(room, run, "Late")
        card = await room.bot_says("Entry 1 by")

        async def recorded() -> bool:  # so that what is removed next is the record, not a race with it
            return await run.instance.state.get("matrix_card", card["event_id"]) is not None

        await eventually(recorded, 30, "the card's record")
    assert card["content"][VOTES_FIELD] == [f"round:{rnd.id}:1:1"]  # the card says what a reaction votes for
    # what a bot stopped between the homeserver accepting its cards and recording them is left with
    with sqlite3.connect(tmp_path / "data" / "wavepool.sqlite3") as db:
        db.execute("DELETE FROM bot_state WHERE namespace = 'matrix_card'")
    synapse.react(room.alice_token, room.room, card["event_id"], "👍")
    # bob's own message dressed up as a card for entry 2: his reaction on it is no vote
    forged = synapse.send(
        room.bob_token,
        room.room,
        {"msgtype": "m.text", "body": "Entry 2: vote here", VOTES_FIELD: [f"round:{rnd.id}:2:1"]},
    )
    synapse.react(room.bob_token, room.room, forged, "👍")
    after = room.say(room.bob_token, f"!wp round status {rnd.id}")  # bob's events are handled in order
    async with running(room.config, PARTS) as run:
        voting = run.instance.app.voting
        assert voting is not None
        await room.reply_to(after, 60)

        async def alice_counted() -> bool:
            ballots = await voting.ballots(await voting.get(str(rnd.id)))
            return room.alice in {b.voter.user_id for b in ballots}

        await eventually(alice_counted, 60, "alice's ballot by reaction")
        ballots = await voting.ballots(await voting.get(str(rnd.id)))
        assert [b.voter.user_id for b in ballots] == [room.alice]  # bob's reaction on his forgery cast nothing
        standings = await voting.standings(await voting.get(str(rnd.id)))
        assert sorted((s.entry.number, s.votes) for s in standings) == [(1, 1), (2, 0)]


async def test_events_beyond_one_sync_while_the_bot_was_down_are_handled_once(
    synapse: Homeserver,  # noqa: F811
    tmp_path: Path,
) -> None:
    room = Room(synapse, tmp_path)
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        rnd = await round_in_voting(room, run, "Late")
        card = await room.bot_says("Entry 1 by")
    # while the bot is down: a vote by command, a vote by reaction, then more than a sync's timeline
    early = room.say(room.bob_token, f"!wp round vote {rnd.id} 2")
    synapse.react(room.mod_token, room.room, card["event_id"], "👍")
    for index in range(FILLER):
        synapse.text(room.alice_token, room.room, f"chatter {index}")
    late = room.say(room.alice_token, f"!wp round vote {rnd.id} 1")
    async with running(room.config, PARTS) as run:
        voting = run.instance.app.voting
        assert voting is not None
        commands = [early, late]

        async def answered() -> bool:
            return len(answers_to(room.bot_messages(), room.bot, commands)) == len(commands)

        await eventually(answered, 60, "answers to the command before the gap and the one after it")

        async def counted() -> bool:
            ballots = await voting.ballots(await voting.get(str(rnd.id)))
            return {room.alice, room.bob, room.mod} <= {b.voter.user_id for b in ballots}

        await eventually(counted, 60, "the ballots cast by command and by reaction while the bot was down")
        standings = await voting.standings(await voting.get(str(rnd.id)))
        assert sorted((s.entry.number, s.votes) for s in standings) == [(1, 2), (2, 1)]
        answers = answers_to(room.bot_messages(), room.bot, commands)
        assert sorted(len(found) for found in answers.values()) == [1, 1]  # each answered once


async def test_a_reaction_being_counted_when_the_bot_stops_counts_after_the_restart(
    synapse: Homeserver,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    room = Room(synapse, tmp_path)
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        rnd = await round_in_voting(room, run, "Late")
        card = await room.bot_says("Entry 1 by")
        pressing = asyncio.Event()

        async def held(*args: Any, **kwargs: Any) -> None:  # the ballot on its way when the bot stops
            pressing.set()
            await asyncio.Event().wait()  # until the stop cancels it

        monkeypatch.setattr("bots.matrix.bot.press", held)
        synapse.react(room.alice_token, room.room, card["event_id"], "👍")

        async def counting() -> bool:
            return pressing.is_set()

        await eventually(counting, 30, "the bot to be counting alice's reaction")
    monkeypatch.undo()
    async with running(room.config, PARTS) as run:
        voting = run.instance.app.voting
        assert voting is not None

        async def alice_counted() -> bool:
            ballots = await voting.ballots(await voting.get(str(rnd.id)))
            return room.alice in {b.voter.user_id for b in ballots}

        await eventually(alice_counted, 60, "alice's ballot, read again after the restart")
        standings = await voting.standings(await voting.get(str(rnd.id)))
        assert sorted((s.entry.number, s.votes) for s in standings) == [(1, 1), (2, 0)]


async def test_what_was_said_in_a_room_before_the_bot_joined_it_is_not_acted_on(
    synapse: Homeserver,  # noqa: F811
    tmp_path: Path,
) -> None:
    room = Room(synapse, tmp_path)
    later = synapse.create_room(room.mod_token, name="later")
    synapse.join(room.alice_token, later)
    old = [synapse.text(room.alice_token, later, "!wp help")]  # beyond one sync's timeline once the bot joins
    for index in range(FILLER):
        synapse.text(room.alice_token, later, f"chatter {index}")
    old.append(synapse.text(room.alice_token, later, "!wp help"))  # within it
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        synapse.call("POST", f"/_matrix/client/v3/rooms/{later}/invite", room.mod_token, {"user_id": room.bot})

        async def joined() -> bool:
            members = synapse.call("GET", f"/_matrix/client/v3/rooms/{later}/joined_members", room.mod_token)
            return room.bot in members["joined"]

        await eventually(joined, 30, "the bot to join the room it was invited to")
        new = synapse.text(room.alice_token, later, "!wp help")  # alice's events are handled in order

        def answers() -> dict[str, list[dict[str, Any]]]:
            return answers_to(room_history(synapse, room.mod_token, later, 1000), room.bot, [*old, new])

        async def answered() -> bool:
            return new in answers()

        await eventually(answered, 60, "the bot's answer in the room it joined")
        assert set(answers()) == {new}  # the commands sent before it joined were not run

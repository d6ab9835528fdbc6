"""One sync full of many members' votes, against a real Synapse: the bot handles members
concurrently, yet each member's own events stay in order and nothing is lost or counted twice."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_matrix_bot import PARTS, Room, _ready, round_in_voting, synapse  # noqa: F401 (the fixture)
from tests.load.scenarios import answers_to, matrix_members
from tests.support.homeserver import Homeserver
from tests.support.instances import running
from tests.support.waiting import eventually

MEMBERS = 12


async def test_many_members_in_one_sync_each_in_order(synapse: Homeserver, tmp_path: Path) -> None:  # noqa: F811
    room = Room(synapse, tmp_path)
    members = matrix_members(synapse, room.room, MEMBERS)
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        rnd = await round_in_voting(room, run, "Busy")
        card = await room.bot_says("Entry 1 by")
    # the bot is down while everyone votes: its next sync brings all of it at once
    commands = []
    for index, (_, token) in enumerate(members):
        if index % 2:
            commands.append(room.say(token, f"!wp round vote {rnd.id} 2"))
        else:
            synapse.react(token, room.room, card["event_id"], "👍")
    # bob votes, then withdraws (a redacted reaction arrives already blanked, so by command)
    commands.append(room.say(room.bob_token, f"!wp round vote {rnd.id} 1"))
    commands.append(room.say(room.bob_token, f"!wp round vote {rnd.id} 1 0"))
    async with running(room.config, PARTS) as run:
        voting = run.instance.app.voting
        assert voting is not None

        async def every_command_answered() -> bool:  # bob's withdrawal answered: his lane is done
            return len(answers_to(room.bot_messages(), room.bot, commands)) == len(commands)

        await eventually(every_command_answered, 60, "an answer to every command")

        async def every_member_counted() -> bool:  # reactions get no answer: wait for their ballots
            ballots = await voting.ballots(await voting.get(str(rnd.id)))
            return {user for user, _ in members} <= {b.voter.user_id for b in ballots}

        await eventually(every_member_counted, 60, "every member's ballot")
        standings = await voting.standings(await voting.get(str(rnd.id)))
        counts = sorted((s.entry.number, s.votes) for s in standings)
        assert counts == [(1, MEMBERS // 2), (2, MEMBERS // 2)]  # every member's vote, bob's withdrawn
        ballots = await voting.ballots(await voting.get(str(rnd.id)))
        voters = [b.voter.user_id for b in ballots]
        assert sorted(voters) == sorted(user for user, _ in members)  # once each, bob not among them
        answers = answers_to(room.bot_messages(), room.bot, commands)  # a reply, or a line of a batched notice
        assert sorted(len(found) for found in answers.values()) == [1] * len(commands)  # every command answered once

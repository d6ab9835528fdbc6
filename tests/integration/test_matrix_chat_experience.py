"""The chat experience on a real Synapse: share by reply anywhere, votes counted at the time
they were cast across a restart, places checked when set, round posts where the round
started with playable entries, results of the latest round, one answer to late reactions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_matrix_bot import Room, _ready
from tests.support.audio import make_mp3
from tests.support.homeserver import Homeserver
from tests.support.instances import running, write_config
from tests.support.waiting import eventually

PARTS = ("bots.matrix.part",)
WITH_SCHEDULER = ("bots.matrix.part", "bots.scheduler_part")


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-chat"), max_upload="5M")
    yield server
    server.stop()


@pytest.fixture
def room(synapse: Homeserver, tmp_path: Path) -> Room:
    return Room(synapse, tmp_path)


def _plain_config(room: Room, tmp_path: Path) -> Path:
    """The bot's config with no round, digest or default room: posts go where things start."""
    return write_config(
        tmp_path / "plain.toml",
        tmp_path / "data",
        matrix={"homeserver": room.hs.url, "user_id": room.bot, "access_token": room.bot_token},
        ingest={"max_mb": 3},
    )


def _reply(room: Room, token: str, target: str, body: str, room_id: str | None = None) -> str:
    return room.hs.send(
        token,
        room_id or room.room,
        {"msgtype": "m.text", "body": body, "m.relates_to": {"m.in_reply_to": {"event_id": target}}},
    )


def _audio(room: Room, token: str, tmp_path: Path, seed: int, body: str, room_id: str | None = None) -> str:
    data = make_mp3(tmp_path / f"{seed}.mp3", 3, seed).read_bytes()
    mxc = room.hs.upload(token, data, "audio/mpeg", f"{seed}.mp3")
    return room.hs.send(
        token,
        room_id or room.room,
        {
            "msgtype": "m.audio",
            "body": body,
            "filename": f"{seed}.mp3",
            "url": mxc,
            "info": {"mimetype": "audio/mpeg", "size": len(data)},
        },
    )


def _replies_to(room: Room, event_id: str) -> list[dict[str, Any]]:
    return [
        m
        for m in room.bot_messages()
        if m["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id
        and m["content"].get("msgtype") != "m.audio"  # an entry's audio in its thread is no answer
    ]


async def test_share_as_a_reply_in_an_unwatched_room_reads_the_caption(room: Room, tmp_path: Path) -> None:
    config = _plain_config(room, tmp_path)  # no watched room at all
    async with running(config, PARTS) as run:
        await _ready(room, run)
        posted = _audio(room, room.alice_token, tmp_path, 5, "Neon rain #synthwave")
        ignored = room.say(room.alice_token, "!wp help")  # handled after the audio: the audio was seen
        await room.reply_to(ignored)
        assert await run.instance.app.tracks.count() == 0
        asked = _reply(room, room.alice_token, posted, "!wp share --prompt 'neon rain at dusk'")
        card = await room.reply_to(asked)
        assert "Neon rain" in card["content"]["body"]
        (track,) = await run.instance.app.tracks.recent(5)
        assert (track.title, track.genre, track.prompt) == ("Neon rain", "synthwave", "neon rain at dusk")
        assert track.sharer.user_id == room.alice
        words = room.say(room.bob_token, "nothing to share here")
        refused = await room.reply_to(_reply(room, room.bob_token, words, "!wp share"))
        assert "reply to an audio message or a message with a link" in refused["content"]["body"]


async def test_a_reaction_before_the_deadline_while_the_bot_was_down_counts(room: Room, tmp_path: Path) -> None:
    async with running(room.config, WITH_SCHEDULER) as run:
        await _ready(room, run)
        await room.reply_to(_audio(room, room.alice_token, tmp_path, 1, "alpha"))
        await room.reply_to(room.say(room.mod_token, "!wp round start Night --submit 1h --vote 1h"))
        await room.reply_to(room.say(room.alice_token, "!wp round submit 1 alpha"))
        await room.reply_to(room.say(room.mod_token, "!wp round close 1"))
        entry = await room.bot_says("Entry 1 by")

        async def votable() -> bool:  # the bot stores the card's ballots just after posting it
            return await run.instance.state.get("matrix_card", entry["event_id"]) is not None

        await eventually(votable, 30, "the entry card's ballots to be stored")
    reacted = room.hs.react(room.bob_token, room.room, entry["event_id"], "👍")  # the bot is down
    deadline = datetime.now(UTC) + timedelta(seconds=1)  # ...and the deadline passes before it is back
    with sqlite3.connect(tmp_path / "data" / "wavepool.sqlite3") as db:
        db.execute("UPDATE rounds SET vote_until = ? WHERE id = 1", (deadline.isoformat(),))

    async def passed() -> bool:
        return datetime.now(UTC) > deadline

    await eventually(passed, 10, "the voting deadline to pass")
    async with running(room.config, WITH_SCHEDULER) as run:
        voting = run.instance.app.voting
        assert voting is not None

        async def closed() -> bool:
            return (await voting.get(1)).phase.value == "closed"

        await eventually(closed, 60, "the round to close after the restart")
        standings = await voting.standings(await voting.get(1))
        assert [s.votes for s in standings] == [1], "the reaction made in time was refused"
        assert not _replies_to(room, entry["event_id"])
        del reacted


async def test_channel_set_here_and_a_room_the_bot_is_not_in(room: Room) -> None:
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        here = await room.reply_to(room.say(room.mod_token, "!wp channel set round here"))
        assert "here" not in here["content"]["body"].split("go to")[1] and "music" in here["content"]["body"]
        assert await run.instance.app.destination("round:9", "matrix") == room.room
        bogus = await room.reply_to(room.say(room.mod_token, "!wp channel set digest bogus"))
        assert "is not a room" in bogus["content"]["body"]
        absent = await room.reply_to(room.say(room.mod_token, "!wp channel set digest !nowhere:localhost"))
        assert "not in !nowhere:localhost" in absent["content"]["body"]
        published = await room.reply_to(room.say(room.mod_token, "!wp digest publish"))
        assert "Digest published to" in published["content"]["body"]


async def test_a_round_posts_where_it_started_with_playable_entries_and_results(room: Room, tmp_path: Path) -> None:
    config = _plain_config(room, tmp_path)
    async with running(config, PARTS) as run:
        await _ready(room, run)
        await room.reply_to(room.say(room.mod_token, "!wp watch add"))  # shares in this room from now on
        for token, seed, name in ((room.alice_token, 1, "alpha"), (room.bob_token, 2, "beta")):
            await room.reply_to(_audio(room, token, tmp_path, seed, name))
        started = await room.reply_to(room.say(room.mod_token, "!wp round start Night --submit 1h --vote 1h"))
        assert "posted here" in started["content"]["body"]
        opened = await room.bot_says("is open for submissions")
        assert "`!wp round submit 1 <track>`" in opened["content"]["body"] and " UTC)" in opened["content"]["body"]
        await room.reply_to(room.say(room.alice_token, "!wp round submit 1 alpha"))
        await room.reply_to(room.say(room.bob_token, "!wp round submit 1 beta"))
        await room.reply_to(room.say(room.mod_token, "!wp round close 1"))
        entries = [await room.bot_says(f"Entry {n} by") for n in (1, 2)]

        async def playable() -> bool:
            threads = {
                m["content"].get("m.relates_to", {}).get("event_id")
                for m in room.bot_messages()
                if m["content"].get("msgtype") == "m.audio"
                and m["content"].get("m.relates_to", {}).get("rel_type") == "m.thread"
            }
            return all(e["event_id"] in threads for e in entries)

        await eventually(playable, 30, "each entry card's audio in its thread")
        room.hs.react(room.mod_token, room.room, entries[0]["event_id"], "👍")
        await room.reply_to(room.say(room.mod_token, "!wp round close 1"))
        await room.bot_says("Results: round #1")
        results = await room.reply_to(room.say(room.alice_token, "!wp round results"))
        assert "Results: round #1" in results["content"]["body"]
        late = [room.hs.react(t, room.room, entries[1]["event_id"], "👍") for t in (room.alice_token, room.mod_token)]

        async def answered() -> bool:
            return bool(_replies_to(room, entries[1]["event_id"]))

        await eventually(answered, 30, "the answer to a reaction on a closed round")
        assert "closed" in _replies_to(room, entries[1]["event_id"])[0]["content"]["body"]
        marker = room.say(room.alice_token, "!wp help round results")  # handled after both reactions
        await room.reply_to(marker)
        assert len(_replies_to(room, entries[1]["event_id"])) == 1, "one answer to the late reactions"
        del late


async def test_share_as_a_reply_to_a_message_with_a_link(room: Room, tmp_path: Path) -> None:
    from tests.support.link_server import LinkServer

    server = await LinkServer().start()
    try:
        server.add_bytes("/drop.mp3", make_mp3(tmp_path / "drop.mp3", 3, 8).read_bytes())
        config = write_config(
            tmp_path / "links.toml",
            tmp_path / "data",
            matrix={"homeserver": room.hs.url, "user_id": room.bot, "access_token": room.bot_token},
            links={"allow_ranges": ["127.0.0.1/32"], "connect_timeout_s": 3, "read_timeout_s": 3},
        )
        async with running(config, PARTS) as run:
            await _ready(room, run)
            posted = room.say(room.bob_token, f"Night swim\nlisten: {server.url('/drop.mp3')}")
            card = await room.reply_to(_reply(room, room.bob_token, posted, "!wp share #lofi"))
            assert "Night swim" in card["content"]["body"], card["content"]["body"]
            (track,) = await run.instance.app.tracks.recent(5)
            assert (track.title, track.genre) == ("Night swim", "lofi")
            assert server.paths() == ["/drop.mp3"]
    finally:
        await server.stop()

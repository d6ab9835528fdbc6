"""The Matrix bot against a real Synapse: commands, shares, reaction votes, rounds, digest, restarts."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core.model import Share, Sharer
from core.voting_model import Round, RoundRules
from tests.support.audio import make_mp3
from tests.support.factories import make_track
from tests.support.homeserver import Homeserver
from tests.support.instances import Running, running, write_config
from tests.support.waiting import eventually

PARTS = ("bots.matrix.part",)


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-bot"), max_upload="5M")
    yield server
    server.stop()


class Room:
    """A room with the bot, a moderator, and two members; helpers to talk and listen."""

    def __init__(self, hs: Homeserver, tmp: Path) -> None:
        tag = str(time.monotonic_ns())[-6:]
        self.hs = hs
        self.bot, self.bot_token = hs.register(f"bot{tag}")
        self.mod, self.mod_token = hs.register(f"mod{tag}")
        self.alice, self.alice_token = hs.register(f"alice{tag}")
        self.bob, self.bob_token = hs.register(f"bob{tag}")
        self.room = hs.create_room(self.mod_token, invite=[self.bot], name="music", power={self.bot: 50})
        for token in (self.alice_token, self.bob_token):
            hs.join(token, self.room)
        self.config = write_config(
            tmp / "bot.toml",
            tmp / "data",
            matrix={
                "homeserver": hs.url,
                "user_id": self.bot,
                "access_token": self.bot_token,
                "watch_rooms": [self.room],
            },
            genres={"default_matrix_room": self.room},
            voting={"round_matrix_room": self.room},
            digest={"matrix_room": self.room},
            ingest={"max_mb": 3},
        )

    def say(self, token: str, text: str) -> str:
        return self.hs.text(token, self.room, text)

    def bot_messages(self) -> list[dict[str, Any]]:
        return [
            e
            for e in reversed(self.hs.messages(self.mod_token, self.room, 200))
            if e["sender"] == self.bot and e["type"] == "m.room.message"
        ]

    async def reply_to(self, event_id: str, timeout_s: float = 30) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        async def check() -> bool:
            found[:] = [
                m
                for m in self.bot_messages()
                if m["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == event_id
                and m["content"].get("msgtype") != "m.audio"  # a round entry's audio in its thread
            ]
            return bool(found)

        await eventually(check, timeout_s, f"the bot's reply to {event_id}")
        return found[0]

    async def bot_says(self, words: str, timeout_s: float = 30) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        async def check() -> bool:
            found[:] = [m for m in self.bot_messages() if words in m["content"].get("body", "")]
            return bool(found)

        await eventually(check, timeout_s, f"the bot to say {words!r}")
        return found[-1]


@pytest.fixture
def room(synapse: Homeserver, tmp_path: Path) -> Room:
    return Room(synapse, tmp_path)


async def _ready(room: Room, run: Running) -> None:
    """Wait until the bot has joined the room and synced it, so what members say next is handled.

    On its very first start the bot skips old history: a message is handled only when a
    sync after the bot's first one brings it, and permissions need the room's state.
    """

    async def joined() -> bool:
        members = room.hs.call("GET", f"/_matrix/client/v3/rooms/{room.room}/joined_members", room.mod_token)
        return room.bot in members["joined"]

    await eventually(joined, 30, "the bot to join")

    async def synced() -> bool:
        bot = run.parts.matrix.bot if run.parts.matrix is not None else None
        return (
            bot is not None
            and room.room in bot.client.rooms
            and await run.instance.state.get("matrix", "since") is not None
        )

    await eventually(synced, 30, "the bot to sync the room it joined")


async def round_in_voting(room: Room, run: Running, theme: str) -> Round:
    """A round with two entries (by dora and evan), its entry cards posted in the room."""
    voting = run.instance.app.voting
    assert voting is not None
    mod = Sharer("matrix", room.mod, "mod")
    rnd = await voting.start(RoundRules(theme=theme), mod, room.room, timedelta(hours=1), timedelta(hours=1))
    for name in ("@dora:localhost", "@evan:localhost"):
        who = Sharer("matrix", name, name)
        track = make_track(who, f"by {name}")
        await run.instance.app.tracks.add(track, Share(track.id, who, track.first_seen_at, room.room))
        await voting.submit(str(rnd.id), track.id, who)
    await voting.close_phase(str(rnd.id), mod)
    return rnd


async def test_help_errors_and_permissions(room: Room) -> None:
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        help_reply = await room.reply_to(room.say(room.alice_token, "!wp help"))
        assert "round start" in help_reply["content"]["body"]
        assert "<b>" in help_reply["content"]["formatted_body"]
        one = await room.reply_to(room.say(room.alice_token, "!wp help round vote"))
        assert "entry" in one["content"]["body"]
        unknown = await room.reply_to(room.say(room.alice_token, "!wp dance"))
        assert "unknown command `dance`" in unknown["content"]["body"]
        denied = await room.reply_to(room.say(room.alice_token, '!wp round start "Night drive"'))
        assert "moderator" in denied["content"]["body"]
        started = await room.reply_to(room.say(room.mod_token, '!wp round start "Night drive" --submit 1h'))
        assert "Round #1" in started["content"]["body"]


async def test_share_audio_and_refuse_fake(room: Room, tmp_path: Path) -> None:
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        data = make_mp3(tmp_path / "neon.mp3", 3, 7).read_bytes()
        mxc = room.hs.upload(room.alice_token, data, "audio/mpeg", "Neon @room.mp3")
        event = room.hs.send(
            room.alice_token,
            room.room,
            {
                "msgtype": "m.audio",
                "body": "Neon @room.mp3",
                "url": mxc,
                "info": {"mimetype": "audio/mpeg", "size": len(data)},
            },
        )
        card = await room.reply_to(event)
        body = card["content"]["body"]
        assert "Neon" in body and "Provenance" in body and "LUFS" in body
        assert "@room" not in body and "@room" not in card["content"]["formatted_body"]
        assert card["content"]["m.mentions"] == {}
        assert await run.instance.app.tracks.count() == 1
        posted = await room.bot_says("track shared by")  # the card in the genre's room (here: the default)
        assert "Neon" in posted["content"]["formatted_body"]

        async def audio_posted() -> bool:
            return any(m["content"].get("msgtype") == "m.audio" for m in room.bot_messages())

        await eventually(audio_posted, 30, "the playable audio under the card")
        fake = room.hs.upload(room.alice_token, b"this is a text file\n" * 100, "audio/mpeg", "song.mp3")
        event = room.hs.send(
            room.alice_token,
            room.room,
            {"msgtype": "m.file", "body": "song.mp3", "url": fake, "info": {"mimetype": "audio/mpeg", "size": 2000}},
        )
        refusal = await room.reply_to(event)
        assert "not audio" in refusal["content"]["body"]
        big = room.hs.send(
            room.alice_token,
            room.room,
            {
                "msgtype": "m.audio",
                "body": "huge.mp3",
                "url": mxc,
                "info": {"mimetype": "audio/mpeg", "size": 40_000_000},
            },
        )
        assert "accepts up to" in (await room.reply_to(big))["content"]["body"]
        assert await run.instance.app.tracks.count() == 1


async def test_round_by_reactions_with_restart(room: Room, tmp_path: Path) -> None:
    async with running(room.config, PARTS) as run:
        await _ready(room, run)
        tracks = {}
        for who, token, seed in (("alice", room.alice_token, 1), ("bob", room.bob_token, 2)):
            data = make_mp3(tmp_path / f"{who}.mp3", 3, seed).read_bytes()
            mxc = room.hs.upload(token, data, "audio/mpeg", f"{who}.mp3")
            event = room.hs.send(
                token,
                room.room,
                {
                    "msgtype": "m.audio",
                    "body": f"{who}.mp3",
                    "url": mxc,
                    "info": {"mimetype": "audio/mpeg", "size": len(data)},
                },
            )
            await room.reply_to(event)
            mine = await run.instance.app.tracks.by_sharer("matrix", room.alice if who == "alice" else room.bob)
            tracks[who] = mine[0].id
        await room.reply_to(room.say(room.mod_token, '!wp round start "Night drive" --submit 1h --vote 1h'))
        for who, token in (("alice", room.alice_token), ("bob", room.bob_token)):
            entered = await room.reply_to(room.say(token, f"!wp round submit 1 {tracks[who]}"))
            assert "entry" in entered["content"]["body"]
        await room.reply_to(room.say(room.mod_token, "!wp round close 1"))
        entry_alice = await room.bot_says("Entry 1 by")
        entry_bob = await room.bot_says("Entry 2 by")
    # restart: a command sent while the bot is down is handled once after it comes back
    missed = room.say(room.alice_token, "!wp round status 1")
    async with running(room.config, PARTS) as run:
        await room.reply_to(missed)
        assert (
            len(
                [
                    m
                    for m in room.bot_messages()
                    if m["content"].get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == missed
                ]
            )
            == 1
        )
        voting = run.instance.app.voting
        # bob approves alice's entry, then withdraws and approves again; mod approves alice's
        bob_vote = room.hs.react(room.bob_token, room.room, entry_alice["event_id"], "👍")
        room.hs.react(room.mod_token, room.room, entry_alice["event_id"], "👍")
        self_vote = room.hs.react(room.alice_token, room.room, entry_alice["event_id"], "👍")
        refusal = await room.reply_to(entry_alice["event_id"])
        assert "own entry" in refusal["content"]["body"]
        del self_vote

        async def two_votes() -> bool:
            standings = await voting.standings(await voting.get("1"))
            return [s.votes for s in standings if s.entry.number == 1] == [2]

        await eventually(two_votes, 30, "two votes for alice's entry")
        room.hs.redact(room.bob_token, room.room, bob_vote)

        async def withdrawn() -> bool:
            standings = await voting.standings(await voting.get("1"))
            return [s.votes for s in standings if s.entry.number == 1] == [1]

        await eventually(withdrawn, 30, "bob's vote withdrawn")
        room.hs.react(room.alice_token, room.room, entry_bob["event_id"], "👍")
        await room.reply_to(room.say(room.mod_token, "!wp round close 1"))
        results = await room.bot_says("Results: round #1")
        assert "1." in results["content"]["body"]
        digest = room.say(room.mod_token, "!wp digest publish")
        await room.reply_to(digest)
        await room.bot_says("Weekly digest")

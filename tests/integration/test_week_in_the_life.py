"""A week in the life of one community on both platforms, with a peer, a crash and a restart.

One instance (``wavepool run`` in a subprocess, so it can be SIGKILLed) runs both bots: the
Matrix bot against a real Synapse and the Discord bot against the local Discord fake. A
peer instance federates through a room on the same Synapse. Everything is checked on what
each platform actually received.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.federation.part import ROOM_EVENT_LEVELS
from tests.support.audio import make_mp3, make_ogg
from tests.support.discord_fake import APP_ID, GUILD_ID, DiscordFake
from tests.support.federation import publish_fast
from tests.support.homeserver import Homeserver, free_port
from tests.support.instances import eventually, running, write_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def synapse(tmp_path_factory: pytest.TempPathFactory):
    server = Homeserver.start(tmp_path_factory.mktemp("synapse-week"), max_upload="5M")
    yield server
    server.stop()


class Community:
    """The Matrix side: accounts and rooms; and the running instance's process."""

    def __init__(self, hs: Homeserver, fake: DiscordFake, tmp: Path) -> None:
        tag = os.urandom(3).hex()
        self.hs, self.fake, self.tmp = hs, fake, tmp
        self.bot, self.bot_token = hs.register(f"wbot{tag}")
        self.mod, self.mod_token = hs.register(f"wmod{tag}")
        self.alice, self.alice_token = hs.register(f"walice{tag}")
        self.bob, self.bob_token = hs.register(f"wbob{tag}")
        self.music = hs.create_room(self.mod_token, invite=[self.bot], name="music", power={self.bot: 50})
        self.feed = hs.create_room(self.mod_token, invite=[self.bot], name="feed", power={self.bot: 50})
        for token in (self.alice_token, self.bob_token):
            hs.join(token, self.music)
            hs.join(token, self.feed)
        self.fed_room = hs.create_room(self.mod_token, name="federation", events=ROOM_EVENT_LEVELS)
        self.port = free_port()
        self.data = tmp / "a"
        self.config = write_config(
            tmp / "a.toml",
            self.data,
            http={"port": self.port},
            matrix={
                "homeserver": hs.url,
                "user_id": self.bot,
                "access_token": self.bot_token,
                "watch_rooms": [self.music],
            },
            discord={
                "token": "fake-token",
                "application_id": APP_ID,
                "test_guild_id": GUILD_ID,
                "api_base": fake.base,
                "watch_channels": [fake.channels["music"]],
            },
            genres={"default_matrix_room": self.feed, "default_discord_channel": fake.channels["synthwave"]},
            federation={"rooms": [self.fed_room]},
            ingest={"max_mb": 3},
        )
        peer, peer_token = hs.register(f"wpeer{tag}")
        self.peer_config = write_config(
            tmp / "b.toml",
            tmp / "b",
            instance={"community": "Lo-fi Friends"},
            http={"port": 0},
            matrix={"homeserver": hs.url, "user_id": peer, "access_token": peer_token},
            federation={"rooms": [self.fed_room]},
        )
        self.proc: asyncio.subprocess.Process | None = None

    # -- the instance ------------------------------------------------------------------

    async def start(self) -> None:
        identified = self.fake.identified
        identified.clear()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "--config",
            str(self.config),
            "run",
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=open(self.tmp / "a.log", "ab"),
        )  # noqa: SIM115
        await eventually(self._up, 60, "the instance's control socket, Discord gateway and Matrix sync")

    async def _up(self) -> bool:
        assert self.proc is not None and self.proc.returncode is None, (self.tmp / "a.log").read_text()[-3000:]
        return (self.data / "control.sock").exists() and self.fake.identified.is_set() and self._subscribers_ready()

    def _subscribers_ready(self) -> bool:
        rows = self._db("SELECT subscriber FROM event_checkpoints")
        return {"matrix", "discord"} <= {r[0] for r in rows} or not self._db("SELECT 1 FROM events")

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 30)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()

    async def wavepool(self, *args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bots.cli",
            "--config",
            str(self.config),
            *args,
            cwd=self.tmp,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
        return proc.returncode or 0, out.decode(), err.decode()

    def _db(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        if not (self.data / "wavepool.sqlite3").exists():
            return []
        with contextlib.closing(sqlite3.connect(self.data / "wavepool.sqlite3", timeout=10)) as conn:
            return list(conn.execute(sql, params))

    # -- what each platform received ----------------------------------------------------

    def matrix_posts(self, room: str) -> list[dict[str, Any]]:
        return [
            e
            for e in reversed(self.hs.messages(self.mod_token, room, 500))
            if e["sender"] == self.bot and e["type"] == "m.room.message"
        ]

    def matrix_text(self, room: str) -> str:
        return "\n".join(str(e["content"].get("body", "")) for e in self.matrix_posts(room))

    def discord_posts(self, channel: str) -> list[dict[str, Any]]:
        return list(self.fake.messages.get(self.fake.channels[channel], []))

    def discord_text(self, channel: str) -> str:
        out = []
        for message in self.discord_posts(channel):
            out.append(message.get("content") or "")
            for embed in message.get("embeds") or []:
                out += [embed.get("title") or "", embed.get("description") or ""]
                out += [f"{f['name']} {f['value']}" for f in embed.get("fields") or []]
        return "\n".join(out)

    async def on_both(self, words: str, what: str) -> None:
        async def seen() -> bool:
            return words in self.discord_text("synthwave") and words in self.matrix_text(self.feed)

        await eventually(seen, 60, f"{what} on both platforms")

    def count_both(self, words: str) -> tuple[int, int]:
        discord_count = sum(
            1
            for m in self.discord_posts("synthwave")
            if any(words in (e.get("title") or "") + (e.get("description") or "") for e in m.get("embeds") or [])
            or words in (m.get("content") or "")
        )
        matrix_count = sum(1 for e in self.matrix_posts(self.feed) if words in str(e["content"].get("body", "")))
        return discord_count, matrix_count


def _button(fake: DiscordFake, message: dict[str, Any], custom_id: str, user: str) -> dict[str, Any]:
    """A button press on a message the bot posted (INTERACTION_CREATE, component)."""
    return {
        "id": fake.snowflake(),
        "application_id": APP_ID,
        "type": 3,
        "token": f"tok{time.monotonic_ns()}",
        "version": 1,
        "guild_id": GUILD_ID,
        "channel_id": message["channel_id"],
        "channel": {"id": message["channel_id"], "type": 0, "guild_id": GUILD_ID, "name": "synthwave"},
        "member": fake.member(user),
        "message": message,
        "data": {"custom_id": custom_id, "component_type": 2},
        "app_permissions": "0",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID},
        "attachment_size_limit": 10 * 1024 * 1024,
        "context": 0,
    }


async def test_a_week_in_the_life(synapse: Homeserver, fake: DiscordFake, tmp_path: Path) -> None:
    c = Community(synapse, fake, tmp_path)
    await c.start()
    try:
        # 1. alice shares on Discord: the card reaches the genre channel on Discord AND the room on Matrix
        neon = make_mp3(tmp_path / "neon.mp3", 12, 11).read_bytes()
        await fake.dispatch(
            "MESSAGE_CREATE",
            fake.message_create(
                "new one", user="alice", attachments=[fake.attachment("Neon Drive.mp3", neon, "audio/mpeg")]
            ),
        )
        await c.on_both("Neon Drive", "the Discord share")
        # 2. bob shares on Matrix: it reaches Discord too
        rain = make_mp3(tmp_path / "rain.mp3", 3, 12).read_bytes()
        mxc = synapse.upload(c.bob_token, rain, "audio/mpeg", "Rain Tape.mp3")
        synapse.send(
            c.bob_token,
            c.music,
            {
                "msgtype": "m.audio",
                "body": "Rain Tape.mp3",
                "url": mxc,
                "info": {"mimetype": "audio/mpeg", "size": len(rain)},
            },
        )
        await c.on_both("Rain Tape", "the Matrix share")
        # 3. a re-upload of alice's track by bob (another encoding): quarantined, shown nowhere
        copy = make_ogg(tmp_path / "copy.ogg", 12, 11)
        rc, out, err = await c.wavepool("ingest", str(copy), "--by", "mallory", "--title", "Stolen Neon")
        assert rc == 0 and "review" in out and "done by the running instance" in err, (out, err)
        stolen_cid = c._db("SELECT cid FROM tracks WHERE title = 'Stolen Neon'")[0][0]
        # 4. a moderator starts a round from the terminal while the instance runs
        rc, out, err = await c.wavepool("cmd", "round", "start", "Night drive", "--submit", "1h", "--vote", "1h")
        assert rc == 0 and "done by the running instance" in err, err
        await c.on_both("open for submissions", "the round announcement")
        # entries from both platforms
        neon_id = c._db("SELECT id FROM tracks WHERE title = 'Neon Drive'")[0][0]
        rain_id = c._db("SELECT id FROM tracks WHERE title = 'Rain Tape'")[0][0]
        await fake.dispatch(
            "INTERACTION_CREATE",
            fake.interaction(
                "round submit",
                [{"name": "round", "type": 3, "value": "1"}, {"name": "track", "type": 3, "value": neon_id}],
                user="alice",
            ),
        )
        synapse.text(c.bob_token, c.music, f"!wp round submit 1 {rain_id}")

        async def two_entries() -> bool:
            return len(c._db("SELECT 1 FROM entries WHERE round_id = 1")) == 2

        await eventually(two_entries, 60, "an entry from each platform")
        rc, out, err = await c.wavepool("cmd", "round", "close", "1")  # submissions end: voting opens
        assert rc == 0, err
        await c.on_both("Voting is open", "the voting announcement")
        await c.on_both("entry 2", "the entry cards")
        # votes from both platforms: bob votes on Discord for entry 1, alice reacts on Matrix to entry 2
        entry1 = next(
            m
            for m in c.discord_posts("synthwave")
            if any("entry 1" in (e.get("title") or "") for e in m.get("embeds") or [])
        )
        custom_id = entry1["components"][0]["components"][0]["custom_id"]
        await fake.dispatch("INTERACTION_CREATE", _button(fake, entry1, custom_id, "bob"))
        card2 = next(e for e in c.matrix_posts(c.feed) if "entry 2" in str(e["content"].get("body", "")))
        synapse.react(c.alice_token, c.feed, card2["event_id"], "👍")

        async def two_ballots() -> bool:
            return len(c._db("SELECT 1 FROM ballots WHERE round_id = 1")) == 2

        await eventually(two_ballots, 60, "a ballot from each platform")
        # 5. the instance is killed during voting, and comes back after the deadline
        await c.kill()
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        with contextlib.closing(sqlite3.connect(c.data / "wavepool.sqlite3")) as conn:
            conn.execute("UPDATE rounds SET vote_until = ? WHERE id = 1", (past,))
            conn.commit()
        await c.start()
        await c.on_both("Results", "the results after the restart")
        rc, out, err = await c.wavepool("cmd", "digest", "publish")
        assert rc == 0, err
        await c.on_both("Weekly digest", "the digest")
        # 6. a peer's track is replicated and announced as the peer community's
        async with running(c.peer_config) as peer:
            (peer_track,) = await publish_fast(peer, 1, tmp_path)
            await c.on_both("from Lo-fi Friends", "the peer's track")
        # once each, on both platforms, even across the SIGKILL and the restart
        for words in ("Neon Drive", "Rain Tape", "open for submissions", "Voting is open", "Results", "Weekly digest"):
            assert c.count_both(words)[0] >= 1 and c.count_both(words)[1] >= 1, words
        for words in ("open for submissions", "Voting is open", "Results: round", "Weekly digest"):
            assert c.count_both(words) == (1, 1), (words, c.count_both(words))
        # the quarantined re-upload appeared nowhere but the review queue
        for text in (c.discord_text("synthwave"), c.discord_text("music"), c.matrix_text(c.feed)):
            assert "Stolen Neon" not in text
        rc, out, _ = await c.wavepool("cmd", "review")
        assert "Stolen Neon" in out
        rc, out, _ = await c.wavepool("cmd", "--as", "carol", "search", "Stolen")
        assert "Stolen Neon" not in out
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{c.port}/blobs/{stolen_cid}") as response:
                assert response.status == 404
        assert peer_track
    finally:
        await c.stop()


async def test_a_repeated_delivery_is_one_message_on_matrix(synapse: Homeserver, tmp_path: Path) -> None:
    """The delivery key is the Matrix transaction id: a delivery repeated after a crash (same
    account, same key) is the same event to the homeserver, not a second post."""
    import nio

    user, token = synapse.register(f"keys{os.urandom(3).hex()}")
    room = synapse.create_room(token, name="keys")
    client = nio.AsyncClient(synapse.url, user)
    client.access_token, client.user_id = token, user
    try:
        content = {"msgtype": "m.text", "body": "once"}
        first = await client.room_send(room, "m.room.message", content, tx_id="wp7ma0")
        again = await client.room_send(room, "m.room.message", content, tx_id="wp7ma0")
        assert isinstance(first, nio.RoomSendResponse) and isinstance(again, nio.RoomSendResponse)
        assert first.event_id == again.event_id
        bodies = [e["content"].get("body") for e in synapse.messages(token, room, 20) if e["type"] == "m.room.message"]
        assert bodies.count("once") == 1
    finally:
        await client.close()
